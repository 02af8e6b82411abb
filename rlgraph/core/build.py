"""From a graph file to a running Graph: load, check, construct nodes, compile the tick."""

from __future__ import annotations

import hashlib
import itertools
from collections import deque
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Any

from . import memory
from .errors import GraphError, GraphErrors
from .executor import NEVER, Graph, Op, located
from .graphfile import read_graph
from .node import Clock, Node, NodeConfigError
from .overrides import apply_overrides
from .ports import Kind
from .protocols import PlansMemory, UsesGraph
from .registry import REGISTRY, Registry
from .schedule import build_order, repeat_cones, tick_order
from .spec import GraphSpec
from .ticks import DelayLine
from .validate import CheckedGraph, check_graph


def derive_seed(seed: int, node: str) -> int:
    """A node's own seed: stable across runs, platforms and Python hash randomization."""
    digest = hashlib.blake2b(f"{seed}/{node}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "little") & 0x7FFFFFFF


def check_file(path: str | Path, registry: Registry = REGISTRY,
               overrides: Sequence[str] = ()) -> tuple[CheckedGraph | None, list[GraphError]]:
    """Read a graph file, apply `--set` overrides and check it; return the checked graph
    (None if the file could not be parsed) and every error found."""
    spec, errors = read_graph(path)
    if spec is None:
        return None, errors
    errors += apply_overrides(spec, overrides)
    checked = check_graph(spec, registry)
    errors += checked.errors
    checked.errors = errors
    return checked, errors


def load(path: str | Path, registry: Registry = REGISTRY,
         overrides: Sequence[str] = ()) -> CheckedGraph:
    """Read, override and check a graph file; raise GraphErrors listing every problem."""
    checked, errors = check_file(path, registry, overrides)
    if checked is None or errors:
        raise GraphErrors(errors)
    return checked


def build(source: str | Path | CheckedGraph, *, seed: int | None = None,
          registry: Registry = REGISTRY, only: Collection[str] | None = None,
          firing: Collection[str] | None = None) -> Graph:
    """Construct every node (static inputs first) and compile the tick schedule.

    `only` builds part of the graph: those nodes, which must include every node they
    take static inputs from; `firing` limits the tick to those nodes (the others are
    built for their static outputs and never fire). A placed run's worker builds its
    actors this way (core/placement.py)."""
    checked = source if isinstance(source, CheckedGraph) else load(source, registry)
    if checked.errors:
        raise GraphErrors(checked.errors)
    spec, classes = checked.spec, checked.classes
    if seed is not None:
        spec.seed = seed
    clock = Clock(total=spec.steps)
    order = [n for n in build_order(spec, classes) if only is None or n in only]
    nodes: dict[str, Node] = {}
    seeds: dict[str, int] = {}
    with memory.budget():  # what the nodes reserve adds up; nothing large allocated yet
        try:
            _reserve_delay_lines(spec)
            for name in order:
                seeds[name] = derive_seed(spec.seed, name)
                nodes[name] = _construct(spec, classes, nodes, name, seeds[name], clock)
            _plan_memory(spec, classes, nodes, order)
        except BaseException:
            for node in reversed(list(nodes.values())):
                node.close()
            raise
    graph = _compile(spec, classes, nodes, seeds, clock, order,
                     set(nodes) if firing is None else set(firing) & set(nodes))
    try:
        _call_each(spec, nodes, order, UsesGraph, lambda node: node.attach(graph))
    except GraphErrors:
        graph.close()
        raise
    return graph


def _call_each(spec: GraphSpec, nodes: dict[str, Node], order: list[str], protocol: type,
               call: Callable[[Any], None]) -> None:
    """`call(node)` for every node of `protocol`, in build order; a NodeConfigError is
    located at the node."""
    for name in order:
        node = nodes[name]
        if isinstance(node, protocol):
            try:
                call(node)
            except NodeConfigError as exc:
                raise located(exc, name, spec.nodes[name]) from exc


def _reserve_delay_lines(spec: GraphSpec) -> None:
    """A delayed wire holds `delay` values; a delay no memory holds is an error at the
    wire, before its line is made."""
    for edge in spec.edges():
        if edge.delayed:
            problem = memory.reserve(edge.delay * memory.DELAY_SLOT_BYTES,
                                     f"the delay line of {edge.dst_node}.{edge.dst_port} "
                                     f"({edge.delay:,} tick{'s' if edge.delay > 1 else ''})")
            if problem:
                raise GraphErrors([GraphError(
                    problem, edge.loc, node=edge.dst_node, port=edge.dst_port,
                    hint="a delay is a few ticks (delay: 1 closes a feedback loop)")])


def _plan_memory(spec: GraphSpec, classes: dict[str, type[Node]], nodes: dict[str, Node],
                 order: list[str]) -> None:
    """Nodes that allocate after the build (a replay buffer on its first transition)
    reserve now, from the specs the graph's nodes emit."""
    specs = [node.static_outputs[port] for name, node in nodes.items()
             for port, out in classes[name].outputs.items()
             if out.static and out.kind is Kind.SPEC and port in node.static_outputs]
    _call_each(spec, nodes, order, PlansMemory, lambda node: node.plan_memory(specs))


def _construct(spec: GraphSpec, classes: dict[str, type[Node]], built: dict[str, Node],
               name: str, seed: int, clock: Clock) -> Node:
    node_spec = spec.nodes[name]
    cls = classes[name]
    statics: dict[str, Any] = {}
    for port, edge in node_spec.inputs.items():
        if cls.inputs[port].static:
            statics[port] = built[edge.src.node].static_outputs[edge.src.port]
    try:
        return cls(name=name, seed=seed, clock=clock, device=spec.device,
                   repeat=node_spec.triggers.repeat, **dict(node_spec.params), **statics)
    except NodeConfigError as exc:
        raise located(exc, name, node_spec) from exc


def _compile(spec: GraphSpec, classes: dict[str, type[Node]], nodes: dict[str, Node],
             seeds: dict[str, int], clock: Clock, order: list[str],
             firing: set[str]) -> Graph:
    slots: dict[tuple[str, str], int] = {}
    for name in spec.nodes:
        for port, out in classes[name].outputs.items():
            if not out.static:
                slots[(name, port)] = len(slots)
    cones = {root: [n for n in cone if n in firing]
             for root, cone in repeat_cones(spec, classes).items() if root in firing}
    burst_of = {member: root for root, cone in cones.items() for member in [root, *cone]}
    delay_lines: list[DelayLine] = []
    next_slot = len(slots)
    ops: list[Op] = []
    for index, name in enumerate(n for n in tick_order(spec, classes) if n in firing):
        node_spec, cls = spec.nodes[name], classes[name]
        inputs = []
        for port, decl in cls.inputs.items():
            if decl.static:
                continue
            edge = node_spec.inputs.get(port)
            if edge is None:  # optional and unconnected: always None
                continue
            src = slots[(edge.src.node, edge.src.port)]
            if edge.delayed:  # (repeat(): no list of `delay` items on the way)
                burst = burst_of.get(name)
                delay_lines.append(DelayLine(
                    deque(itertools.repeat(edge.init, edge.delay), maxlen=edge.delay), src,
                    next_slot, edge.init,
                    burst if burst is not None and burst_of.get(edge.src.node) == burst
                    else None))
                src, next_slot = next_slot, next_slot + 1
            inputs.append((port, src, not decl.optional))
        outputs = tuple((port, slots[(name, port)])
                        for port, out in cls.outputs.items() if not out.static)
        trig = node_spec.triggers
        on_slot = slots[(trig.on.node, trig.on.port)] if trig.on is not None else -1
        ops.append(Op(name=name, step=nodes[name].step, inputs=tuple(inputs),
                      outputs=outputs, every=trig.every, after=trig.after,
                      until=NEVER if trig.until is None else trig.until,
                      on_slot=on_slot, index=index))
    repeats = {root: (spec.nodes[root].triggers.repeat, cone) for root, cone in cones.items()}
    return Graph(spec, nodes, seeds, clock, ops, slots, delay_lines, order, repeats)
