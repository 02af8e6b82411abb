"""The built graph and its tick loop.

At build the schedule is compiled into a flat list of tuples over a flat list of value
slots; a tick walks that list once. No graph algorithm, no sort, no dict of ports and no
validation runs inside the loop: all checking was done at load and build time.
"""

from __future__ import annotations

import sys
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from .errors import GraphError, GraphErrors
from .node import Clock, Node, NodeConfigError
from .ports import ABSENT
from .spec import GraphSpec, NodeSpec

NEVER = sys.maxsize


@dataclass(frozen=True)
class Op:
    """One node's place in the tick: where it reads, where it writes, when it fires."""

    name: str
    step: Callable[..., Any]
    inputs: tuple[tuple[str, int, bool], ...]  # (port, slot, required)
    outputs: tuple[tuple[str, int], ...]  # (port, slot)
    every: int
    after: int
    until: int
    on_slot: int  # slot of the `on:` event, or -1 for tick triggers
    index: int  # position in the schedule; indexes the `on:` counters

    def as_tuple(self) -> tuple:
        return (self.step, self.inputs, self.outputs, self.every, self.after, self.until,
                self.on_slot, self.index)


class Graph:
    """A built graph: its nodes, a compiled schedule, and the state of the tick loop."""

    def __init__(self, spec: GraphSpec, nodes: dict[str, Node], seeds: dict[str, int],
                 clock: Clock, ops: list[Op], slots: dict[tuple[str, str], int],
                 delay_lines: list[tuple[deque, int, int]], build_order: list[str],
                 repeats: dict[str, tuple[int, list[str]]] | None = None) -> None:
        self.spec = spec
        self.nodes = nodes
        self.seeds = seeds
        self.clock = clock
        self.build_order = build_order
        self.tick = 0
        self._ops = ops
        self._slot_of = slots
        self._slots: list[Any] = [ABSENT] * (max(slots.values(), default=-1) + 1
                                             + len(delay_lines))
        self._lines = delay_lines
        self._reads = [(line, dst) for line, _, dst in delay_lines]
        self._writes = [(line, src) for line, src, _ in delay_lines]
        self._counts = [0] * len(ops)
        repeats = repeats or {}
        self._compiled = self._compile(repeats)
        in_cone = {name for _, cone in repeats.values() for name in cone}
        self.tick_order = [name for op in ops if op.name not in in_cone
                           for name in [op.name, *repeats.get(op.name, (0, []))[1]]]

    def _compile(self, repeats: dict[str, tuple[int, list[str]]]) -> list[tuple]:
        """The flat list the tick walks; a node with `repeat` becomes one entry that
        runs it and its cone n times."""
        by_name = {op.name: op for op in self._ops}
        in_cone = {name for _, cone in repeats.values() for name in cone}
        compiled = []
        for op in self._ops:
            if op.name in in_cone:
                continue
            if op.name in repeats:
                times, cone = repeats[op.name]
                compiled.append(self._repeat_op(op, times, [by_name[n] for n in cone]))
            else:
                compiled.append(op.as_tuple())
        return compiled

    def _repeat_op(self, op: Op, times: int, cone: list[Op]) -> tuple:
        slots, counts, clock = self._slots, self._counts, self.clock
        node_step, node_outs = op.step, op.outputs
        cone_ops = [c.as_tuple() for c in cone]
        group_outs = tuple((f"{o.name}.{port}", s) for o in (op, *cone) for port, s in o.outputs)

        def fire_repeated(**kwargs: Any) -> dict[str, Any]:
            for _ in range(times):
                result = node_step(**kwargs)
                for port, s in node_outs:
                    slots[s] = result.get(port, ABSENT) if result else ABSENT
                _fire(cone_ops, slots, counts, clock.tick)
            return {key: slots[s] for key, s in group_outs}

        fire_repeated.node = self.nodes[op.name]  # type: ignore[attr-defined]
        return (fire_repeated, op.inputs, group_outs, op.every, op.after, op.until,
                op.on_slot, op.index)

    # ---- running -------------------------------------------------------------------
    def run(self, ticks: int, callback: Callable[[Graph], Any] | None = None,
            chunk: int = 1000) -> None:
        """Run `ticks` ticks; `callback(graph)` is called between chunks of `chunk` ticks
        (progress bars, checkpoints) so that it costs nothing per tick."""
        end = self.tick + ticks
        while self.tick < end:
            self._run(min(chunk if callback else end - self.tick, end - self.tick))
            if callback is not None:
                callback(self)

    def step(self) -> None:
        """Run a single tick."""
        self._run(1)

    def _run(self, n: int) -> None:
        slots, ops, counts = self._slots, self._compiled, self._counts
        reads, writes, clock = self._reads, self._writes, self.clock
        t = self.tick
        end = t + n
        try:
            while t < end:
                clock.tick = t
                for line, dst in reads:
                    slots[dst] = line[0]
                _fire(ops, slots, counts, t)
                for line, src in writes:
                    line.append(slots[src])
                t += 1
        except NodeConfigError as exc:  # a wiring mistake a node could see only running
            name = getattr(exc, "node", None)
            if name not in self.spec.nodes:
                raise
            raise located(exc, name, self.spec.nodes[name], tick=t) from exc
        finally:
            self.tick = t

    # ---- inspection ----------------------------------------------------------------
    def value(self, ref: str) -> Any:
        """What output `node.port` emitted on the last tick (ABSENT if nothing); static
        outputs give their build-time value."""
        node, _, port = ref.rpartition(".")
        if (node, port) in self._slot_of:
            return self._slots[self._slot_of[(node, port)]]
        if node in self.nodes and port in self.nodes[node].static_outputs:
            return self.nodes[node].static_outputs[port]
        raise KeyError(f"no output '{ref}' in graph '{self.spec.name}'")

    # ---- state ---------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume exactly: tick, trigger counters, values in flight
        on delayed wires, and every node's own state."""
        return {
            "tick": self.tick,
            "seeds": dict(self.seeds),
            "trigger_counts": {op.name: c for op, c in zip(self._ops, self._counts)},
            "delay_lines": [list(line) for line, _, _ in self._lines],
            "nodes": {name: node.state_dict() for name, node in self.nodes.items()},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.tick = state["tick"]
        self.clock.tick = self.tick
        counts = state["trigger_counts"]
        self._counts = [counts.get(op.name, 0) for op in self._ops]
        for (line, _, _), saved in zip(self._lines, state["delay_lines"]):
            line.clear()
            line.extend(saved)
        for name, node_state in state["nodes"].items():
            self.nodes[name].load_state_dict(node_state)

    def close(self) -> None:
        for node in reversed([self.nodes[n] for n in self.build_order]):
            node.close()

    def __enter__(self) -> Graph:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes.values())


def _fire(ops: list[tuple], slots: list[Any], counts: list[int], t: int) -> None:
    """One pass over compiled ops: check triggers, gather inputs, step, write outputs."""
    step = None
    try:
        for step, ins, outs, every, after, until, on_slot, i in ops:
            if on_slot < 0:
                count = t
            elif slots[on_slot] is ABSENT:
                for _, s in outs:
                    slots[s] = ABSENT
                continue
            else:
                count = counts[i]
                counts[i] = count + 1
            if count < after or count >= until or count % every:
                for _, s in outs:
                    slots[s] = ABSENT
                continue
            kwargs = {}
            for port, s, required in ins:
                value = slots[s]
                if value is ABSENT:
                    if required:
                        break
                    value = None
                kwargs[port] = value
            else:
                result = step(**kwargs)
                if result:
                    get = result.get
                    for port, s in outs:
                        slots[s] = get(port, ABSENT)
                else:
                    for _, s in outs:
                        slots[s] = ABSENT
                continue
            for _, s in outs:
                slots[s] = ABSENT
    except Exception as exc:
        owner = getattr(step, "__self__", None) or getattr(step, "node", None)
        if isinstance(owner, Node) and not getattr(exc, "_rlgraph_noted", False):
            exc._rlgraph_noted = True  # type: ignore[attr-defined]
            if getattr(exc, "node", None) is None:  # else it names whose problem it is
                exc.node = owner.name  # type: ignore[attr-defined]
            exc.add_note(f"rlgraph: raised by node '{owner.name}' ({type(owner).__name__}) "
                         f"at tick {t}")
        raise


def located(exc: NodeConfigError, name: str, node_spec: NodeSpec,
            tick: int | None = None) -> GraphErrors:
    """A node's complaint about its params or inputs, located at the node (or at the
    wire of the input it names) in the graph file."""
    edge = node_spec.inputs.get(exc.port) if exc.port else None
    loc = edge.loc if edge is not None else node_spec.loc
    message = exc.message if tick is None else f"{exc.message} (at tick {tick})"
    return GraphErrors([GraphError(message, loc, node=name, port=exc.port, hint=exc.hint)])
