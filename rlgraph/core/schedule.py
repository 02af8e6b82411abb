"""Orders over a checked graph: which node to build first, which to fire first in a tick,
and which nodes a `repeat` runs again.

Both orders are topological sorts with ties broken by the order of the YAML file, so the
same file always gives the same schedule.
"""

from __future__ import annotations

import networkx as nx

from .node import Node
from .spec import EdgeSpec, GraphSpec, NodeRef


def dependency_graph(spec: GraphSpec, classes: dict[str, type[Node]],
                     static: bool) -> nx.MultiDiGraph:
    """Nodes and the wires that order them: with static=False the non-delayed stream
    wires (and `on:` triggers) that order a tick; with static=True the static wires
    that order construction."""
    g = nx.MultiDiGraph()
    g.add_nodes_from(spec.nodes)
    for edge in dependency_edges(spec, classes):
        if _is_static(edge, classes) == static and not edge.delayed:
            g.add_edge(edge.src.node, edge.dst_node, edge=edge)
    return g


def dependency_edges(spec: GraphSpec, classes: dict[str, type[Node]]) -> list[EdgeSpec]:
    """All wires plus `on:` triggers (which order the tick like a wire does)."""
    edges = [e for e in spec.edges() if e.src.node in spec.nodes]
    for node in spec.nodes.values():
        on = node.triggers.on
        if on is not None and on.node in spec.nodes:
            edges.append(EdgeSpec(src=on, dst_node=node.name, dst_port="on", loc=on.loc))
    return edges


def _is_static(edge: EdgeSpec, classes: dict[str, type[Node]]) -> bool:
    cls = classes.get(edge.src.node)
    out = cls.outputs.get(edge.src.port) if cls else None
    return bool(out and out.static)


def _yaml_ordered_sort(spec: GraphSpec, g: nx.MultiDiGraph) -> list[str]:
    return list(nx.lexicographical_topological_sort(g, key=lambda n: spec.nodes[n].index))


def build_order(spec: GraphSpec, classes: dict[str, type[Node]]) -> list[str]:
    """Construction order: a node is built after the nodes whose static outputs
    (modules, specs, buffers) it takes."""
    return _yaml_ordered_sort(spec, dependency_graph(spec, classes, static=True))


def order_targets(spec: GraphSpec, ref: NodeRef) -> list[str]:
    """The nodes an `order:` name stands for: the node, or every node of a subgraph
    node (their nested names start with it)."""
    if ref.node in spec.nodes:
        return [ref.node]
    return [name for name in spec.nodes if name.startswith(f"{ref.node}.")]


def order_pairs(spec: GraphSpec) -> list[tuple[str, str, NodeRef, str]]:
    """Every `order:` constraint as (first, then, the name as written, the node that
    wrote it); names that stand for no node are left to validation."""
    pairs = []
    for node in spec.nodes.values():
        for ref in node.order.after:
            pairs += [(other, node.name, ref, node.name) for other in order_targets(spec, ref)]
        for ref in node.order.before:
            pairs += [(node.name, other, ref, node.name) for other in order_targets(spec, ref)]
    return [p for p in pairs if p[0] != p[1]]


def _stream_order(spec: GraphSpec, classes: dict[str, type[Node]]) -> list[str]:
    """Non-delayed stream wires only, ties in file order; nodes without `step` left out."""
    order = _yaml_ordered_sort(spec, dependency_graph(spec, classes, static=False))
    return [name for name in order if classes[name].fires()]


def unit_graph(spec: GraphSpec, classes: dict[str, type[Node]],
               cones: dict[str, list[str]]) -> nx.MultiDiGraph:
    """The tick's units (a node, or a repeated node with its burst) and what orders them:
    stream wires and `order:` constraints, each end moved to its unit."""
    unit_of = {member: root for root, cone in cones.items() for member in cone}
    g = nx.MultiDiGraph()
    g.add_nodes_from(name for name in spec.nodes if name not in unit_of)
    stream = [(e.src.node, e.dst_node, e) for e in dependency_edges(spec, classes)
              if not e.delayed and not _is_static(e, classes)]
    ordered = [(first, then, ref) for first, then, ref, _ in order_pairs(spec)]
    for src, dst, why in [*stream, *ordered]:
        u, v = unit_of.get(src, src), unit_of.get(dst, dst)
        if u != v:
            g.add_edge(u, v, why=why)
    return g


def tick_order(spec: GraphSpec, classes: dict[str, type[Node]]) -> list[str]:
    """Firing order within a tick: stream wires (non-delayed) and `order:` constraints,
    ties in file order; a repeated node is followed by its burst. Nodes that do no
    per-tick work (no `step`) are left out."""
    cones = repeat_cones(spec, classes)
    units = _yaml_ordered_sort(spec, unit_graph(spec, classes, cones))
    order = []
    for unit in units:
        if not classes[unit].fires():
            continue
        order.append(unit)
        order += _burst_order(spec, classes, cones.get(unit, []))
    return order


def repeat_cones(spec: GraphSpec, classes: dict[str, type[Node]]) -> dict[str, list[str]]:
    """For each node with `repeat`, the nodes that run again with it: those whose every
    non-delayed stream input comes from that node or from its cone (in stream order)."""
    order = _stream_order(spec, classes)
    feeds: dict[str, set[str]] = {name: set() for name in spec.nodes}
    for edge in dependency_edges(spec, classes):
        if not edge.delayed and not _is_static(edge, classes):
            feeds[edge.dst_node].add(edge.src.node)
    cones: dict[str, list[str]] = {}
    for root in order:
        if spec.nodes[root].triggers.repeat == 1:
            continue
        members = {root}
        cone = []
        for name in order[order.index(root) + 1:]:
            if feeds[name] and feeds[name] <= members:
                members.add(name)
                cone.append(name)
        cones[root] = cone
    return cones


def burst_graph(spec: GraphSpec, classes: dict[str, type[Node]],
                members: list[str]) -> nx.DiGraph:
    """What orders the nodes of one burst among themselves: their non-delayed stream
    wires and the `order:` constraints between two of them."""
    inside = set(members)
    g = nx.DiGraph()
    g.add_nodes_from(members)
    for e in dependency_edges(spec, classes):
        if e.src.node in inside and e.dst_node in inside and not e.delayed \
                and not _is_static(e, classes):
            g.add_edge(e.src.node, e.dst_node)
    for first, then, _, _ in order_pairs(spec):
        if first in inside and then in inside:
            g.add_edge(first, then)
    return g


def _burst_order(spec: GraphSpec, classes: dict[str, type[Node]],
                 cone: list[str]) -> list[str]:
    """A burst's members in stream order, moved only as far as `order:` constraints
    between two of them require."""
    position = {name: i for i, name in enumerate(cone)}
    return list(nx.lexicographical_topological_sort(burst_graph(spec, classes, cone),
                                                    key=lambda n: position[n]))


def mixed_consumers(spec: GraphSpec, classes: dict[str, type[Node]],
                    cones: dict[str, list[str]]) -> dict[str, list[str]]:
    """For each repeated node, the nodes that read from its cone but also from outside
    it: they run once per tick, after the repetitions, and see the last values."""
    mixed: dict[str, list[str]] = {}
    for root, cone in cones.items():
        members = {root, *cone}
        readers = {e.dst_node for e in dependency_edges(spec, classes)
                   if e.src.node in members and e.dst_node not in members and not e.delayed
                   and not _is_static(e, classes)}
        if readers:
            mixed[root] = sorted(readers, key=lambda n: spec.nodes[n].index)
    return mixed
