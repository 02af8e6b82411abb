"""The order of reads and writes within a tick, checked.

A node that changes a module when it fires (an optimizer's step, a target network's
copy: ports declared `writes=True`) and a node that reads the same module in the same
tick (a policy acting, a loss building its graph) must run in an order the graph
states: a stream wire between them, or `order: {before: [...]}` / `order: {after:
[...]}` on either. Otherwise the YAML file's order would decide silently whether a
policy acts with the network before or after this tick's update (PPO's rollouts would
mix two policies), so it is an error at the reader's line, with the two ways to say it.

`order:` names are checked here too: each must name a node (or a subgraph node: all of
its nodes), and the constraints must not form a cycle with the stream wires.
"""

from __future__ import annotations

from collections.abc import Callable

import networkx as nx

from .errors import GraphError, choices_hint
from .node import Node
from .ports import In, Kind
from .schedule import (
    _burst_order,
    _is_static,
    burst_graph,
    dependency_edges,
    order_targets,
    repeat_cones,
    tick_order,
    unit_graph,
)
from .spec import GraphSpec, PortRef


def check_order_names(spec: GraphSpec, errors: list[GraphError]) -> None:
    """Every `order:` name stands for a node other than the one that writes it."""
    for node in spec.nodes.values():
        for key, refs in (("after", node.order.after), ("before", node.order.before)):
            for ref in refs:
                targets = order_targets(spec, ref)
                if not targets:
                    errors.append(GraphError(
                        f"'order: {key}' names '{ref.node}', which is not a node of graph "
                        f"'{spec.name}'", ref.loc, node=node.name,
                        hint=choices_hint(ref.node, spec.nodes, "node names")))
                elif targets == [node.name]:
                    errors.append(GraphError(
                        f"'order: {key}' names the node itself", ref.loc, node=node.name,
                        hint="name another node"))


def find_order_cycles(spec: GraphSpec, classes: dict[str, type[Node]]) -> list[GraphError]:
    """`order:` constraints that contradict each other or the stream wires."""
    cones = repeat_cones(spec, classes)
    g = unit_graph(spec, classes, cones)
    errors = []
    for component in nx.strongly_connected_components(g):
        if len(component) < 2:
            continue
        start = min(component, key=lambda n: spec.nodes[n].index)
        hops = nx.find_cycle(g.subgraph(component), source=start)
        written = [g.edges[u, v, k]["why"] for u, v, k in hops]
        refs = [w for w in written if not hasattr(w, "src")]  # the order: names in it
        steps = " -> ".join([*(u for u, _, _ in hops), start])
        loc = refs[0].loc if refs else spec.nodes[start].loc
        errors.append(GraphError(
            f"'order:' makes a cycle with the wires of the tick: {steps}", loc,
            node=start, hint="remove one of these order constraints"))
    for root, cone in cones.items():  # order between the members of one burst
        try:
            _burst_order(spec, classes, cone)
        except nx.NetworkXUnfeasible:
            errors.append(GraphError(
                f"'order:' contradicts the wires inside the burst that '{root}' repeats",
                spec.nodes[root].loc, node=root, hint="remove the order constraint"))
    return errors


def module_users(spec: GraphSpec, classes: dict[str, type[Node]]
                  ) -> dict[tuple[str, str], tuple[list[str], list[str]]]:
    """Module output (node, port) -> (the nodes that read it when they fire, the nodes
    that change it when they fire)."""
    users: dict[tuple[str, str], tuple[list[str], list[str]]] = {}
    for name, cls in classes.items():
        if not cls.fires():
            continue
        for port, out in cls.outputs.items():
            if out.kind is Kind.MODULE and out.writes:
                users.setdefault((name, port), ([], []))[1].append(name)
        for port, decl in cls.inputs.items():
            wire = spec.nodes[name].inputs.get(port)
            if decl.kind is not Kind.MODULE or wire is None:
                continue
            readers, writers = users.setdefault((wire.src.node, wire.src.port), ([], []))
            (writers if decl.writes else readers).append(name)
    return users


def find_unordered_updates(spec: GraphSpec, classes: dict[str, type[Node]]
                           ) -> list[GraphError]:
    """A reader and a writer of one module that nothing in the graph orders."""
    cones = repeat_cones(spec, classes)
    unit_of = {member: root for root, cone in cones.items() for member in cone}
    units = unit_graph(spec, classes, cones)
    bursts = {root: burst_graph(spec, classes, [root, *cone]) for root, cone in cones.items()}
    errors = []
    for (src, port), (readers, writers) in module_users(spec, classes).items():
        for writer in writers:
            for reader in readers:
                if reader == writer:
                    continue
                u, v = unit_of.get(reader, reader), unit_of.get(writer, writer)
                if u == v:
                    ordered = u not in bursts or _connected(bursts[u], reader, writer)
                else:
                    ordered = _connected(units, u, v)
                if not ordered:
                    errors.append(_unordered(spec, classes, PortRef(src, port, spec.loc),
                                             reader, writer, v, u == v))
    return errors


def find_stale_gradients(spec: GraphSpec, classes: dict[str, type[Node]]
                         ) -> list[GraphError]:
    """A node that builds autograd graphs through modules (its `grad=True` inputs), an
    optimizer downstream of it that trains one of those modules (so its backward pass
    runs through that node's graph), and a node that changes one of the modules in
    between: the backward pass would combine activations saved before the change with
    the changed weights (silently, with fused kernels)."""
    position = {name: i for i, name in enumerate(tick_order(spec, classes))}
    stream = nx.DiGraph()
    stream.add_nodes_from(spec.nodes)
    for wire in dependency_edges(spec, classes):
        if not wire.delayed and not _is_static(wire, classes):
            stream.add_edge(wire.src.node, wire.dst_node)
    writers = {module: w for module, (_, w) in module_users(spec, classes).items()}
    trains = {name: _modules(spec, classes, name, lambda d: d.writes) for name in classes}
    errors = []
    for builder, cls in classes.items():
        through = _modules(spec, classes, builder, lambda d: d.grad)
        if not cls.fires() or not through:
            continue
        optimizers = [d for d in nx.descendants(stream, builder) if trains[d] & through]
        for optim in optimizers:
            for module in through:
                for writer in writers.get(module, []):
                    if writer != optim and position.get(builder, -1) < position.get(
                            writer, -1) < position.get(optim, -1):
                        errors.append(GraphError(
                            f"builds its loss through '{module[0]}.{module[1]}', which "
                            f"'{writer}' changes before '{optim}' differentiates that "
                            f"loss: the gradient would mix activations saved before the "
                            f"change with the changed weights (with a fused optimizer, "
                            f"silently)", spec.nodes[builder].loc, node=builder,
                            hint=f"build it after the change: order: {{after: "
                                 f"[{writer}]}} on '{builder}'"))
    return errors


def _modules(spec: GraphSpec, classes: dict[str, type[Node]], name: str,
             which: Callable[[In], bool]) -> set[tuple[str, str]]:
    """The module outputs (node, port) wired into `name`'s module inputs that `which`
    selects."""
    wires = spec.nodes[name].inputs
    return {(wires[p].src.node, wires[p].src.port) for p, decl in classes[name].inputs.items()
            if decl.kind is Kind.MODULE and which(decl) and p in wires}


def _connected(g: nx.DiGraph | nx.MultiDiGraph, a: str, b: str) -> bool:
    return nx.has_path(g, a, b) or nx.has_path(g, b, a)


def _unordered(spec: GraphSpec, classes: dict[str, type[Node]], module: PortRef,
               reader: str, writer: str, writer_unit: str, same_burst: bool) -> GraphError:
    position = {name: i for i, name in enumerate(tick_order(spec, classes))}
    first = min(reader, writer, key=lambda n: position.get(n, -1))
    name = writer if same_burst or writer_unit == writer else writer_unit
    burst = "" if name == writer else f" (the burst '{writer}' runs in)"
    return GraphError(
        f"reads '{module}', which '{writer}' ({classes[writer].__name__}) changes in the "
        f"same tick, and nothing in the graph orders the two; today '{first}' runs first, "
        f"because of the file's order", spec.nodes[reader].loc, node=reader,
        hint=f"state it on '{reader}': order: {{before: [{name}]}}{burst} to use the "
             f"module before the change, or order: {{after: [{name}]}} to use the "
             f"changed one")
