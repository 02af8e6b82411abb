"""A checked graph written back as YAML: the graph exactly as it ran (overrides applied,
subgraphs expanded into nested names, derived seeds noted), loadable again."""

from __future__ import annotations

from typing import Any

import yaml

from .placement import Placement
from .ports import ABSENT
from .spec import EdgeSpec, GraphSpec, NodeSpec


def _plain(value: Any) -> Any:
    """Located YAML containers as plain dicts and lists."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _wire(edge: EdgeSpec) -> Any:
    if not edge.delayed:
        return str(edge.src)
    wire: dict[str, Any] = {"from": str(edge.src), "delay": edge.delay}
    if edge.init is not ABSENT:
        wire["init"] = _plain(edge.init)
    return wire


def _node(node: NodeSpec) -> dict[str, Any]:
    out: dict[str, Any] = {"type": node.type}
    if node.params:
        out["params"] = _plain(node.params)
    if node.inputs:
        out["in"] = {port: _wire(edge) for port, edge in node.inputs.items()}
    t = node.triggers
    for key, value, default in (("every", t.every, 1), ("after", t.after, 0),
                                ("until", t.until, None), ("repeat", t.repeat, 1)):
        if value != default:
            out[key] = value
    if t.on is not None:
        out["on"] = str(t.on)
    if node.order:
        out["order"] = {key: [r.node for r in refs] for key, refs in
                        (("after", node.order.after), ("before", node.order.before)) if refs}
    return out


def _placement(placement: Placement) -> dict[str, Any]:
    out: dict[str, Any] = {"workers": placement.workers}
    if placement.actors is not None:
        out["actors"] = [r.node for r in placement.actors]
    out.update(fragment=placement.fragment, mode=placement.mode,
               weights_every=placement.weights_every, restarts=placement.restarts)
    if placement.overrides:
        out["overrides"] = {f"{o.node}.{o.param}": _plain(o.values)
                            for o in placement.overrides}
    return out


def dump_spec(spec: GraphSpec, seeds: dict[str, int] | None = None) -> str:
    """YAML text of the graph as resolved; `seeds` (node -> derived seed) as comments."""
    data: dict[str, Any] = {"name": spec.name}
    if spec.description:
        data["description"] = spec.description
    data["seed"] = spec.seed
    if spec.steps is not None:
        data["steps"] = spec.steps
    data["device"] = spec.device
    if spec.placement is not None:
        data["placement"] = _placement(spec.placement)
    data["nodes"] = {name: _node(node) for name, node in spec.nodes.items()}
    text = f"# {spec.name}, resolved from {spec.file}: overrides applied, subgraphs " \
           f"expanded.\n"
    if seeds:
        text += "# derived seeds: " + ", ".join(f"{k}={v}" for k, v in seeds.items()) + "\n"
    return text + yaml.safe_dump(data, sort_keys=False, default_flow_style=None, width=88)
