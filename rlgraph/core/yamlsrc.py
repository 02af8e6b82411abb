"""Safe YAML loading that remembers where every key and value came from.

Mapping keys are always kept as the strings written (`on:` stays "on", not YAML 1.1's
True): in a graph file every key is a name. Plain scalars like 1e-3 are numbers.

PyYAML's safe loader forgets positions and silently keeps the last of two equal keys.
Here the document is composed into PyYAML nodes (which carry marks) and turned into
plain dicts and lists that also hold the position of each key and value; a duplicate
key is an error that points at both occurrences.

A graph file is input from anyone, so every way text can go wrong is one located error:
bytes that are not UTF-8 and characters YAML forbids (at their line and column), a file
larger than MAX_FILE_BYTES, nesting deeper than MAX_DEPTH, an alias inside the value it
names, aliases that expand to more than MAX_ALIAS_VALUES values (a "billion laughs"),
and values a tag cannot construct (`!!int abc`). Each is reported once, in one line.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.constructor import SafeConstructor
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, ScalarNode, SequenceNode
from yaml.nodes import Node as YamlNode

from .errors import GraphError, Loc, shown

MERGE_TAG = "tag:yaml.org,2002:merge"
STR_TAG = "tag:yaml.org,2002:str"
DEFAULT_TAGS = {MappingNode: "tag:yaml.org,2002:map", SequenceNode: "tag:yaml.org,2002:seq"}
# YAML 1.1 (PyYAML) reads 1e-3 as a string; YAML 1.2 and every RL config mean a number.
EXPONENT_FLOAT = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$")
#: a graph file is a page of YAML; a larger one is not a graph (or a mistake)
MAX_FILE_BYTES = 1 << 20
#: graph files nest a handful of levels; PyYAML itself recurses past ~330
MAX_DEPTH = 64
#: values that aliases may add by repeating what they name
MAX_ALIAS_VALUES = 10_000
#: what YAML counts as a line break (PyYAML's marks count lines the same way)
LINE_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")

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


def position(text: str, index: int) -> tuple[int, int]:
    """1-based (line, column) of character `index` of `text`, counting lines as YAML
    does."""
    line, start = 1, 0
    for m in LINE_BREAK.finditer(text, 0, index):
        line, start = line + 1, m.end()
    return line, index - start + 1


def decode(data: bytes, file: str) -> tuple[str | None, list[GraphError]]:
    """A graph file's bytes as text; a located error for a file too large or bytes that
    are not UTF-8."""
    if len(data) > MAX_FILE_BYTES:
        return None, [GraphError(
            f"the file is {len(data) / 2**20:.1f} MB; a graph file is at most "
            f"{MAX_FILE_BYTES // 2**20} MB", Loc(file, 1, 1),
            hint="is this the graph file you meant? a graph is a page of YAML")]
    try:
        return data.decode("utf-8"), []
    except UnicodeDecodeError as exc:
        before = data[:exc.start].decode("utf-8", errors="replace")
        line, col = position(before, len(before))
        bad = data[exc.start:exc.end]
        return None, [GraphError(
            f"bytes {bad.hex(' ')} are not UTF-8 text", Loc(file, line, col),
            hint="save the file as UTF-8")]


def load_yaml(text: str, file: str) -> tuple[Any, list[GraphError]]:
    """Parse YAML text into located plain data; return (data, errors). A problem with
    the text itself (syntax, characters, limits, values no tag can construct) returns
    data None: it is the one thing to fix first, reported once."""
    if len(text) > MAX_FILE_BYTES:
        return decode(text.encode("utf-8", "surrogatepass"), file)
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.reader.ReaderError as exc:
        line, col = position(text, exc.position)
        char = exc.character
        what = f"character U+{char:04X}" if isinstance(char, int) else f"byte {char!r}"
        return None, [GraphError(f"{what} is not allowed in YAML", Loc(file, line, col),
                                 hint="remove it (a control character pasted in?)")]
    except _LimitError as exc:
        return None, [GraphError(exc.problem or "", mark_loc(file, exc.problem_mark),
                                 hint=exc.hint)]
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or "malformed YAML"
        if exc.context:
            opened = exc.context_mark
            where = f" (line {opened.line + 1})" if opened and opened is not mark else ""
            problem = f"{exc.context}{where}, {problem}"
        return None, [GraphError(f"malformed YAML: {_one_line(problem)}",
                                 mark_loc(file, mark),
                                 hint="check indentation, colons and quotes around this place")]
    except yaml.YAMLError as exc:
        return None, [GraphError(f"malformed YAML: {_one_line(str(exc))}", Loc(file, 1, 1))]
    if root is None:
        return None, [GraphError("the file is empty", Loc(file, 1, 1),
                                 hint="a graph needs at least 'nodes:'; see graphs/dqn.yaml")]
    builder = _Builder(file)
    data = builder.build(root)
    if builder.unreadable:
        return None, builder.unreadable
    return data, builder.errors


def _one_line(text: str) -> str:
    return " ".join(text.split())


class _LimitError(ComposerError):
    """A file past one of the limits above, at the place it passed it."""

    def __init__(self, problem: str, mark: Any, hint: str) -> None:
        super().__init__(None, None, problem, mark)
        self.hint = hint


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, composing no deeper than MAX_DEPTH, refusing an alias
    inside the value it names, and counting what aliases repeat."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.depth = 0
        self.open_anchors: set[str] = set()
        self.alias_values = 0
        self.sizes: dict[int, int] = {}

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, AliasEvent):
            if event.anchor in self.open_anchors:
                raise _LimitError(f"alias '*{event.anchor}' is inside the value it names",
                                  event.start_mark, "a value cannot contain itself; copy "
                                  "the part you need instead")
            node = super().compose_node(parent, index)
            assert node is not None  # an alias names a composed value
            self.alias_values += _size(node, self.sizes)
            if self.alias_values > MAX_ALIAS_VALUES:
                raise _LimitError(
                    f"aliases repeat more than {MAX_ALIAS_VALUES:,} values",
                    event.start_mark, "aliases of aliases multiply (a 'billion laughs'); "
                    "write the values out, or use fewer levels of aliases")
            return node
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _LimitError(f"values nested deeper than {MAX_DEPTH} levels",
                              event.start_mark, "a graph file nests a few levels: "
                              "nodes, node, params, a list")
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            self.open_anchors.add(anchor)
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1
            if anchor is not None:
                self.open_anchors.discard(anchor)


def _size(node: YamlNode, sizes: dict[int, int]) -> int:
    """How many values `node` stands for once every alias in it is written out."""
    key = id(node)
    if key not in sizes:
        if isinstance(node, MappingNode):
            sizes[key] = 1 + sum(_size(k, sizes) + _size(v, sizes) for k, v in node.value)
        elif isinstance(node, SequenceNode):
            sizes[key] = 1 + sum(_size(item, sizes) for item in node.value)
        else:
            sizes[key] = 1
    return sizes[key]


class _Builder:
    def __init__(self, file: str) -> None:
        self.file = file
        self.errors: list[GraphError] = []
        self.unreadable: list[GraphError] = []  # values no tag constructs: data is None
        self.constructor = SafeConstructor()

    def loc(self, node: YamlNode) -> Loc:
        return mark_loc(self.file, node.start_mark)

    def build(self, node: YamlNode) -> Any:
        if isinstance(node, (MappingNode, SequenceNode)) and node.tag != DEFAULT_TAGS[
                type(node)]:
            self.unreadable.append(GraphError(
                f"tag '{_tag(node.tag)}' is not used in graph files", self.loc(node),
                hint="a graph file holds plain mappings, lists, strings and numbers"))
            return None
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
        except Exception as exc:  # PyYAML raises ValueError, KeyError, ... for `!!int abc`
            self.unreadable.append(_unreadable(node, exc, self.loc(node)))
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
        """The mappings `<<:` merges (tags on them are checked as on any value)."""
        nodes = node.value if isinstance(node, SequenceNode) else [node]
        sources = []
        for n in nodes:
            if isinstance(n, MappingNode):
                sources.append(self.mapping(n))
            else:
                self.errors.append(GraphError("'<<' must merge a mapping", self.loc(n)))
        return sources


def _tag(tag: str) -> str:
    return tag.replace("tag:yaml.org,2002:", "!!")


TAG_WORDS = {"int": "an integer", "float": "a number", "bool": "true or false",
             "null": "null", "timestamp": "a date", "binary": "base64 bytes",
             "str": "a string"}


def _unreadable(node: ScalarNode, exc: Exception, loc: Loc) -> GraphError:
    tag = _tag(node.tag)
    words = TAG_WORDS.get(tag.removeprefix("!!"))
    if words is None:  # a tag SafeConstructor has no constructor for
        return GraphError(f"tag '{tag}' is not used in graph files", loc,
                          hint="write the value without a tag: a graph file holds plain "
                               "strings, numbers, true/false, lists and mappings")
    digits = sum(c.isdigit() for c in node.value)
    if digits > 100:  # Python reads at most 4300 digits; no parameter needs 100
        return GraphError(f"a number of {digits} digits ({shown(node.value, 20)})", loc,
                          hint="no parameter takes a number this long")
    return GraphError(f"cannot read {shown(node.value)} as {words} ({tag})", loc,
                      hint=f"write {words}, or remove the tag '{tag}'")
