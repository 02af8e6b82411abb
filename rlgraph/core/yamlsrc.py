"""Safe YAML loading that remembers where every key and value came from.

Mapping keys are always kept as the strings written (`on:` stays "on", not YAML 1.1's
True): in a graph file every key is a name. Plain scalars like 1e-3 are numbers.

PyYAML's safe loader forgets positions and silently keeps the last of two equal keys.
Here the document is composed into PyYAML nodes (which carry marks) and turned into
plain dicts and lists that also hold the position of each key and value; a duplicate
key is an error that points at both occurrences.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, ScalarNode, SequenceNode
from yaml.nodes import Node as YamlNode

from .errors import GraphError, Loc

MERGE_TAG = "tag:yaml.org,2002:merge"
STR_TAG = "tag:yaml.org,2002:str"
# YAML 1.1 (PyYAML) reads 1e-3 as a string; YAML 1.2 and every RL config mean a number.
EXPONENT_FLOAT = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$")


class YMap(dict):
    """A mapping from a YAML file; `loc` is where it starts, `key_locs` and
    `value_locs` give the position of each key and of each value."""

    loc: Loc
    key_locs: dict[Any, Loc]
    value_locs: dict[Any, Loc]

    def key_loc(self, key: Any) -> Loc:
        return self.key_locs.get(key, self.loc)

    def value_loc(self, key: Any) -> Loc:
        return self.value_locs.get(key, self.loc)


class YList(list):
    """A sequence from a YAML file, with the position of each item."""

    loc: Loc
    item_locs: list[Loc]


def mark_loc(file: str, mark: yaml.Mark | None) -> Loc:
    if mark is None:
        return Loc(file)
    return Loc(file, mark.line + 1, mark.column + 1)


def loc_of(value: Any, default: Loc) -> Loc:
    """The position of a YMap or YList, or `default` for a plain scalar."""
    return getattr(value, "loc", default)


def load_yaml(text: str, file: str) -> tuple[Any, list[GraphError]]:
    """Parse YAML text into located plain data; return (data, errors)."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or "malformed YAML"
        if exc.context:
            opened = exc.context_mark
            where = f" (line {opened.line + 1})" if opened and opened is not mark else ""
            problem = f"{exc.context}{where}, {problem}"
        return None, [GraphError(f"malformed YAML: {problem}", mark_loc(file, mark),
                                 hint="check indentation, colons and quotes around this place")]
    except yaml.YAMLError as exc:
        return None, [GraphError(f"malformed YAML: {exc}", Loc(file))]
    if root is None:
        return None, [GraphError("the file is empty", Loc(file, 1, 1),
                                 hint="a graph needs at least 'nodes:'; see graphs/dqn.yaml")]
    builder = _Builder(file)
    data = builder.build(root)
    return data, builder.errors


class _Builder:
    def __init__(self, file: str) -> None:
        self.file = file
        self.errors: list[GraphError] = []
        self.constructor = SafeConstructor()

    def loc(self, node: YamlNode) -> Loc:
        return mark_loc(self.file, node.start_mark)

    def build(self, node: YamlNode) -> Any:
        if isinstance(node, MappingNode):
            return self.mapping(node)
        if isinstance(node, SequenceNode):
            out = YList(self.build(item) for item in node.value)
            out.loc = self.loc(node)
            out.item_locs = [self.loc(item) for item in node.value]
            return out
        assert isinstance(node, ScalarNode)
        if node.style is None and node.tag == STR_TAG and EXPONENT_FLOAT.match(node.value):
            return float(node.value)
        try:
            return self.constructor.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            self.errors.append(GraphError(f"bad value: {exc}", self.loc(node)))
            return None

    def mapping(self, node: MappingNode) -> YMap:
        out = YMap()
        out.loc = self.loc(node)
        out.key_locs, out.value_locs = {}, {}
        merged: list[YMap] = []
        for key_node, value_node in node.value:
            if key_node.tag == MERGE_TAG:
                merged.extend(self._merge_sources(value_node))
                continue
            if not isinstance(key_node, ScalarNode):
                self.errors.append(GraphError("a mapping key must be a plain name",
                                              self.loc(key_node)))
                continue
            # Keys in a graph file are names: YAML 1.1 would read `on:` as True.
            key = key_node.value
            if key in out:
                first = out.key_locs[key]
                self.errors.append(GraphError(
                    f"duplicate key '{key}' (first defined at line {first.line})",
                    self.loc(key_node),
                    hint="YAML would silently keep only the last one; remove or rename one"))
                continue
            out[key] = self.build(value_node)
            out.key_locs[key] = self.loc(key_node)
            out.value_locs[key] = self.loc(value_node)
        for source in merged:  # explicit keys win over merged ones (YAML merge semantics)
            for key, value in source.items():
                if key not in out:
                    out[key] = value
                    out.key_locs[key] = source.key_locs[key]
                    out.value_locs[key] = source.value_locs[key]
        return out

    def _merge_sources(self, node: YamlNode) -> list[YMap]:
        nodes = node.value if isinstance(node, SequenceNode) else [node]
        sources = []
        for n in nodes:
            if isinstance(n, MappingNode):
                sources.append(self.mapping(n))
            else:
                self.errors.append(GraphError("'<<' must merge a mapping", self.loc(n)))
        return sources
