"""Orders over a checked graph: which node to build first, which to fire first in a tick,
and which nodes a `repeat` runs again.

Both orders are topological sorts with ties broken by the order of the YAML file, so the
same file always gives the same schedule.
"""

from __future__ import annotations

import networkx as nx

from .node import Node
from .spec import EdgeSpec, GraphSpec


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


def tick_order(spec: GraphSpec, classes: dict[str, type[Node]]) -> list[str]:
    """Firing order within a tick: non-delayed stream wires only; nodes that do no
    per-tick work (no `step`) are left out."""
    order = _yaml_ordered_sort(spec, dependency_graph(spec, classes, static=False))
    return [name for name in order if classes[name].fires()]


def repeat_cones(spec: GraphSpec, classes: dict[str, type[Node]]) -> dict[str, list[str]]:
    """For each node with `repeat`, the nodes that run again with it: those whose every
    non-delayed stream input comes from that node or from its cone (in tick order)."""
    order = tick_order(spec, classes)
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
