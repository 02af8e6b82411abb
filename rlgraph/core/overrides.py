"""`--set key=value` overrides on a parsed graph, checked like the file itself.

    --set seed=3                 top-level seed / steps / name / device
    --set loss.gamma=0.98        a param of node `loss`
    --set sample.every=8         a trigger (every, after, until, on, repeat) or the type
    --set agent_a.loss.gamma=0.9 nested names of subgraph nodes
    --set agent_a.gamma=0.9      a param a subgraph exports
    --set placement.workers=4    a key of the `placement:` section (made if missing)

Values are read as YAML (`0.98`, `1e-3`, `[64, 64]`, `true`, `null`). An unknown param is
reported by the usual checks, located at the override: `--set loss.gama=0.98: error: ...`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .errors import GraphError, Loc, choices_hint, did_you_mean, shown
from .parse import Parser, integer_problem
from .placement import PLACEMENT_KEYS, parse_placement
from .spec import DEVICE_HINT, GraphSpec, NodeSpec, device_problem, set_param
from .yamlsrc import YMap, load_yaml

TOP_LEVEL = {"seed": 0, "steps": 1}  # key -> lowest allowed value
TRIGGER_KEYS = ("every", "after", "until", "on", "repeat")


def apply_overrides(spec: GraphSpec, overrides: Sequence[str]) -> list[GraphError]:
    """Apply each override in order; return the problems found (nothing is half-applied
    for a malformed override)."""
    errors: list[GraphError] = []
    for text in overrides:
        loc = Loc(f"--set {text}")
        key, sep, raw = text.partition("=")
        key = key.strip()
        if not sep or not key:
            errors.append(GraphError(f"'{text}' is not KEY=VALUE", loc,
                                     hint="e.g.  --set loss.gamma=0.98"))
            continue
        if not raw.strip():
            errors.append(GraphError(f"no value given for '{key}'", loc,
                                     hint=f"e.g.  --set {key}=...  (null sets it to null)"))
            continue
        value, problems = load_yaml(raw, loc.file)
        if problems:
            problem = problems[0].message.removeprefix("malformed YAML: ")
            errors.append(GraphError(f"cannot read the value '{raw}': {problem}", loc,
                                     hint="values are YAML: 0.98, 1e-3, true, [64, 64], 'text'"))
            continue
        _apply(spec, key, value, loc, errors)
    return errors


def _apply(spec: GraphSpec, key: str, value: Any, loc: Loc,
           errors: list[GraphError]) -> None:
    if "." not in key:
        _apply_top_level(spec, key, value, loc, errors)
        return
    node_name, _, field = key.rpartition(".")
    if node_name == "placement" and field in PLACEMENT_KEYS:
        _apply_placement(spec, field, value, loc, errors)
    elif node_name in spec.nodes:
        node = spec.nodes[node_name]
        if field == "type":
            if not isinstance(value, str):
                errors.append(GraphError(f"'type' must be a node type name, got {value!r}",
                                         loc, node=node_name))
            else:
                node.type, node.type_loc = value, loc
        elif field in TRIGGER_KEYS:
            _apply_trigger(spec, node, field, value, loc, errors)
        else:
            set_param(node.params, field, value, loc)
    elif key in spec.param_aliases:
        for ref in spec.param_aliases[key]:
            set_param(spec.nodes[ref.node].params, ref.port, value, loc)
    else:
        errors.append(GraphError(f"no node '{node_name}' in graph '{spec.name}'", loc,
                                 hint=_unknown_key_hint(spec, key, node_name)))


def _unknown_key_hint(spec: GraphSpec, key: str, node_name: str) -> str:
    """A did-you-mean among the params subgraphs export (`a.gama` -> `a.gamma`) and the
    node names; what a subgraph offers when `node_name` is one."""
    close = did_you_mean(key, spec.param_aliases)
    if close:
        return close
    inner = sorted(n for n in spec.nodes if n.startswith(node_name + "."))
    if inner:
        exported = sorted(k for k in spec.param_aliases if k.startswith(node_name + "."))
        return (f"'{node_name}' is a subgraph: "
                + (f"its params are {', '.join(exported)}; " if exported else "")
                + f"its nodes are {', '.join(inner)} (--set {inner[0]}.PARAM=VALUE)")
    return choices_hint(node_name, spec.nodes, "node names") + " (write --set NODE.PARAM=VALUE)"


def _apply_top_level(spec: GraphSpec, key: str, value: Any, loc: Loc,
                     errors: list[GraphError]) -> None:
    if key == "name" and isinstance(value, str):
        spec.name = value
    elif key == "device":
        problem = device_problem(value)
        if problem:
            errors.append(GraphError(problem, loc, hint=DEVICE_HINT))
        else:
            spec.device = value
    elif key in TOP_LEVEL:
        problem = integer_problem(key, value, TOP_LEVEL[key])
        if problem:
            errors.append(GraphError(problem, loc))
        else:
            setattr(spec, key, value)
    elif key == "name":
        errors.append(GraphError(f"'name' must be a string, got {shown(value)}", loc))
    else:
        errors.append(GraphError(
            f"'{key}' is neither a top-level setting nor NODE.PARAM", loc,
            hint=choices_hint(key, [*TOP_LEVEL, "name", "device", *spec.nodes], "keys")))


def _apply_trigger(spec: GraphSpec, node: NodeSpec, field: str, value: Any, loc: Loc,
                   errors: list[GraphError]) -> None:
    """Re-read the node's triggers with the overridden one, through the file's own rules."""
    t = node.triggers
    body = YMap({"every": t.every, "after": t.after, "repeat": t.repeat})
    if t.until is not None:
        body["until"] = t.until
    if t.on is not None:
        body["on"] = str(t.on)
    body[field] = value
    body.loc = node.loc
    body.key_locs = {}
    body.value_locs = {k: (loc if k == field else node.loc) for k in body}
    found: list[GraphError] = []
    triggers = Parser(spec.file, found).triggers(node.name, body)
    errors.extend(found)
    if not found:
        node.triggers = triggers


def _apply_placement(spec: GraphSpec, field: str, value: Any, loc: Loc,
                     errors: list[GraphError]) -> None:
    """Re-read the `placement:` section (an empty one if the file has none) with one key
    overridden, through the file's own rules; the file's own problems are reported
    where they are written, not again here."""
    written = spec.placement.written if spec.placement is not None else None
    section = YMap(written or {})
    section[field] = value
    section.loc = spec.placement.loc if spec.placement is not None else loc
    section.key_locs = {**getattr(written, "key_locs", {}), field: loc}
    section.value_locs = {**getattr(written, "value_locs", {}), field: loc}
    found: list[GraphError] = []
    placement = parse_placement(Parser(spec.file, found), section, section.loc)
    mine = [e for e in found if e.loc is not None and e.loc.file == loc.file]
    errors.extend(mine)
    if not mine:
        spec.placement = placement
