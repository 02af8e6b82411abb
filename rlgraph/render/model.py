"""What a drawing shows, before any DOT: nodes with their port cells, and edges.

`drawing(spec, classes, errors)` turns a checked graph into plain data. It also works
on broken graphs: a node whose type did not resolve shows the ports the file uses,
a wire to a node or port that does not exist gets a placeholder, and everything a
GraphError names is marked as failing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rlgraph.core.errors import GraphError
from rlgraph.core.node import Node
from rlgraph.core.placement import find_cut
from rlgraph.core.ports import ABSENT, Kind, PortKind
from rlgraph.core.schedule import order_pairs, tick_order
from rlgraph.core.spec import GraphSpec, NodeSpec, PortRef

#: The PORT of a node's header cell, where `on:` trigger edges attach.
HEADER_PORT = "header"


def port_id(direction: str, name: str) -> str:
    """The PORT attribute of a port cell: `in_obs`, `out_q`.

    Inputs and outputs may share a name, so the direction is part of the id; anything
    DOT would trip over (a ':' in a misspelled port, say) becomes '_'.
    """
    return f"{direction}_" + re.sub(r"[^A-Za-z0-9_]", "_", name)


@dataclass
class PortView:
    """One port cell."""

    name: str
    kind: PortKind | None  # None: unknown, the node's type did not resolve
    static: bool = False
    connected: bool = False
    declared: bool = True  # False: the file uses a port the node type does not have
    failing: bool = False


@dataclass
class NodeView:
    """One node table; `placeholder` marks a node the file names but never defines."""

    name: str
    type: str
    triggers: str = ""
    params: list[str] = field(default_factory=list)  # the params the file sets, compactly
    position: int = 0  # 1, 2, ...: where it fires in a tick (0: unknown, or never fires)
    doc: str = ""
    inputs: list[PortView] = field(default_factory=list)
    outputs: list[PortView] = field(default_factory=list)
    resolved: bool = True  # False: the type failed to resolve, ports come from the file
    placeholder: bool = False
    failing: bool = False  # an error names this node itself (type, params, ...)
    problems: list[str] = field(default_factory=list)  # every error about it, for tooltips
    actor: bool = False  # replicated on the workers of a placed graph

    @property
    def label(self) -> str:
        """The name inside its cluster: `loss` for `agent_a.loss`."""
        return self.name.rpartition(".")[2]

    @property
    def clusters(self) -> list[str]:
        """Enclosing cluster names, outermost first: `a.b.c` -> ['a', 'a.b']."""
        parts = self.name.split(".")[:-1]
        return [".".join(parts[:i + 1]) for i in range(len(parts))]

    @property
    def marked(self) -> bool:
        """Drawn with a red border: something about this node is wrong."""
        return self.failing or bool(self.problems)

    def port(self, direction: str, name: str) -> PortView | None:
        ports = self.inputs if direction == "in" else self.outputs
        return next((p for p in ports if p.name == name), None)


@dataclass
class EdgeView:
    """A wire (or an `on:` trigger, which ends at the header) between two port cells."""

    src: str
    src_port: str
    dst: str
    dst_port: str | None  # None for a trigger, which ends at the header
    kind: PortKind | None
    static: bool = False
    delay: int = 0
    init: Any = ABSENT
    trigger: bool = False
    order: bool = False  # an `order:` constraint: header to header, src runs first
    channel: str = ""  # 'fragments' or 'weights': the wire crosses between processes
    failing: bool = False
    text: str = ""  # `env.obs -> policy.obs`, for tooltips


@dataclass
class PlacementView:
    """A placed graph's actor group: how many workers run it, and how they talk."""

    workers: int
    fragment: int
    mode: str
    weights_every: int


@dataclass
class Drawing:
    name: str
    description: str
    nodes: dict[str, NodeView]
    edges: list[EdgeView]
    placement: PlacementView | None = None  # set when the graph runs on workers

    def kinds(self) -> list[PortKind]:
        """The kinds of the drawn edges, in Kind order (for the legend)."""
        used = {e.kind for e in self.edges if e.kind is not None}
        return [k for k in Kind.all() if k in used]


def drawing(spec: GraphSpec, classes: Mapping[str, type[Node]],
            errors: Iterable[GraphError] = ()) -> Drawing:
    """The drawing of a parsed graph; `errors` mark what to draw in red."""
    errors = list(errors)
    nodes = {name: _node_view(node, classes.get(name)) for name, node in spec.nodes.items()}
    _add_used_ports(spec, nodes)
    edges = [_edge_view(nodes, e.src, e.dst_node, e.dst_port, delay=e.delay, init=e.init)
             for e in spec.edges()]
    for node in spec.nodes.values():
        on = node.triggers.on
        if on is not None:
            edges.append(_edge_view(nodes, on, node.name, "on", trigger=True))
    for first, then, _, _ in order_pairs(spec):
        edges.append(EdgeView(first, "", then, None, None, order=True,
                              text=f"order: {first} runs before {then}"))
    _mark_errors(nodes, edges, errors)
    _number_tick_order(spec, classes, nodes, errors)
    d = Drawing(spec.name, spec.description, nodes, edges)
    _mark_placement(spec, classes, d, errors)
    return d


def _mark_placement(spec: GraphSpec, classes: Mapping[str, type[Node]], d: Drawing,
                    errors: list[GraphError]) -> None:
    """The actor group and the wires that cross between processes, when the graph is
    placed on workers and whole enough to be cut."""
    p = spec.placement
    if p is None or p.workers == 0 or errors or set(classes) != set(spec.nodes):
        return
    cut = find_cut(spec, dict(classes))
    if cut.errors:
        return
    d.placement = PlacementView(p.workers, p.fragment, p.mode, p.weights_every)
    for name in cut.actors:
        d.nodes[name].actor = True
    crossing: dict[tuple[str, str, str, str | None], str] = {
        (w.src.node, w.src.port, w.dst_node, w.dst_port): kind for w, kind in cut.crossings}
    for edge in d.edges:
        key = (edge.src, edge.src_port, edge.dst, "on" if edge.trigger else edge.dst_port)
        edge.channel = crossing.get(key, "")


def _number_tick_order(spec: GraphSpec, classes: Mapping[str, type[Node]],
                       nodes: dict[str, NodeView], errors: list[GraphError]) -> None:
    """Each firing node's place in the tick, when the graph is whole enough to have one."""
    if errors or set(classes) != set(spec.nodes):
        return
    for position, name in enumerate(tick_order(spec, dict(classes)), start=1):
        nodes[name].position = position


def _node_view(node: NodeSpec, cls: type[Node] | None) -> NodeView:
    view = NodeView(node.name, node.type, triggers=node.triggers.describe(),
                    params=param_lines(node.params), resolved=cls is not None)
    # inputs written in the file, including wires that failed to parse
    written = [*node.inputs, *sorted(set(node.written_inputs) - set(node.inputs))]
    if cls is not None:
        view.doc = (cls.__doc__ or "").strip().split("\n")[0]
        view.inputs = [PortView(p, d.kind, bool(d.static), connected=p in node.inputs)
                       for p, d in cls.inputs.items()]
        view.outputs = [PortView(p, d.kind, bool(d.static)) for p, d in cls.outputs.items()]
    view.inputs += [PortView(p, None, connected=p in node.inputs, declared=False)
                    for p in written if cls is None or p not in cls.inputs]
    return view


#: Longest line of params under a node's type, in characters.
PARAM_LINE = 34


def param_lines(params: Mapping[str, Any]) -> list[str]:
    """The params a node sets, `key value` joined into short lines (`id CartPole-v1`,
    `hidden [256, 256]`, `lr 0.0023 · max_grad_norm 10`), so that two nodes of one type
    with different settings look different; empty dicts and lists are left out."""
    items = [f"{key} {compact(value)}" for key, value in params.items()
             if value not in ({}, [], None)]
    lines: list[str] = []
    for item in items:
        if lines and len(lines[-1]) + 3 + len(item) <= PARAM_LINE:
            lines[-1] += " \u00b7 " + item
        else:
            lines.append(item)
    return lines


def compact(value: Any) -> str:
    """A param value in few characters, as YAML writes it: 0.0023, [256, 256], true."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, Mapping):
        return " ".join(f"{k} {compact(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(compact(v) for v in value) + "]"
    text = str(value)
    return text if len(text) <= PARAM_LINE else text[:PARAM_LINE - 1] + "\u2026"


def _add_used_ports(spec: GraphSpec, nodes: dict[str, NodeView]) -> None:
    """Output cells (or whole placeholder nodes) for every output the file refers to."""
    refs = [e.src for e in spec.edges()]
    refs += [n.triggers.on for n in spec.nodes.values() if n.triggers.on is not None]
    for ref in refs:
        view = nodes.get(ref.node)
        if view is None:
            view = nodes[ref.node] = NodeView(ref.node, "", resolved=False, placeholder=True,
                                              failing=True)
        port = view.port("out", ref.port)
        if port is None:
            view.outputs.append(PortView(ref.port, None, declared=False,
                                         failing=view.resolved))
            port = view.outputs[-1]
        port.connected = True


def _edge_view(nodes: dict[str, NodeView], src: PortRef, dst: str, dst_port: str, *,
               delay: int = 0, init: Any = ABSENT, trigger: bool = False) -> EdgeView:
    out = nodes[src.node].port("out", src.port)
    inp = None if trigger else nodes[dst].port("in", dst_port)
    assert out is not None  # _add_used_ports made one for every reference
    kind = out.kind if out.kind is not None else (inp.kind if inp else None)
    static = out.static if out.declared else bool(inp and inp.static)
    arrow = f"{src} \u2192 {dst}" + ("" if trigger else f".{dst_port}")
    return EdgeView(src.node, src.port, dst, None if trigger else dst_port, kind,
                    static=static, delay=delay, init=init, trigger=trigger,
                    text=("on: " if trigger else "") + arrow)


def _mark_errors(nodes: dict[str, NodeView], edges: list[EdgeView],
                 errors: list[GraphError]) -> None:
    failing_ports = {(e.node, e.port) for e in errors if e.node and e.port}
    for error in errors:
        view = nodes.get(error.node) if error.node else None
        if view is None:
            continue
        view.problems.append(error.format())
        if error.port is None:
            view.failing = True
    for view in nodes.values():
        for port in view.inputs:
            port.failing = port.failing or (view.name, port.name) in failing_ports
    for edge in edges:
        dst_port = "on" if edge.trigger else edge.dst_port
        edge.failing = (edge.dst, dst_port) in failing_ports or nodes[edge.src].placeholder
