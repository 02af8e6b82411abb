"""The built graph and its tick loop.

At build the schedule is compiled into a flat list of ops over a flat list of value
slots, and the ops into one generated function (ticks.py) that runs ticks. No graph
algorithm, no sort, no dict of ports and no validation runs inside the loop: all
checking was done at load and build time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from .errors import GraphError, GraphErrors
from .node import Clock, Node, NodeConfigError
from .ports import ABSENT
from .spec import GraphSpec, NodeSpec
from .ticks import NEVER, DelayLine, Op, compile_run

__all__ = ["NEVER", "Graph", "Op", "located"]


class Graph:
    """A built graph: its nodes, a compiled schedule, and the state of the tick loop."""

    def __init__(self, spec: GraphSpec, nodes: dict[str, Node], seeds: dict[str, int],
                 clock: Clock, ops: list[Op], slots: dict[tuple[str, str], int],
                 delay_lines: list[DelayLine], build_order: list[str],
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
        self._counts = [0] * len(ops)
        self._current = [0]  # index of the op being called, for error notes
        self._repeats = repeats or {}
        self._compile()
        in_cone = {name for _, cone in self._repeats.values() for name in cone}
        self.tick_order = [name for op in ops if op.name not in in_cone
                           for name in [op.name, *self._repeats.get(op.name, (0, []))[1]]]

    def _compile(self) -> None:
        self._run_ticks, self.tick_source = compile_run(
            self._ops, self._repeats, self._lines, self._slots, self._counts, self.clock,
            self._current)

    def replace_step(self, name: str, step: Callable[..., Any]) -> None:
        """Call `step` instead of node `name`'s step from now on (a profiler's timer
        around it, say); the tick is compiled again."""
        self._ops = [op if op.name != name else Op(
            op.name, step, op.inputs, op.outputs, op.every, op.after, op.until, op.on_slot,
            op.index) for op in self._ops]
        if all(op.name != name for op in self._ops):
            raise KeyError(f"node '{name}' does not fire in graph '{self.spec.name}'")
        self._compile()

    def feed(self, name: str, source: Callable[[], Mapping[str, Any] | None] | None
             ) -> None:
        """Stop running node `name` in the tick: from now on `source()` is called in its
        place on every tick, with no inputs and no triggers, and what it returns is what
        the node emitted (None: nothing); with `source` None the node emits nothing. A
        placed run's learner stands in for its actors this way, from the fragments the
        workers send. The tick is compiled again."""
        op = next((op for op in self._ops if op.name == name), None)
        if op is None:
            raise KeyError(f"node '{name}' does not fire in graph '{self.spec.name}'")
        fed = Op(name, source or _silent, (), op.outputs, 1, NEVER if source is None else 0,
                 NEVER, -1, op.index)
        self._ops = [fed if o is op else o for o in self._ops]
        self._compile()

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
        t, done = self.tick, False
        try:
            t = self._run_ticks(t, t + n)
            done = True
        except NodeConfigError as exc:  # a wiring mistake a node could see only running
            t = self.clock.tick
            self._note(exc, t)
            name = getattr(exc, "node", None)
            if name not in self.spec.nodes:
                raise
            raise located(exc, name, self.spec.nodes[name], tick=t) from exc
        except Exception as exc:
            self._note(exc, self.clock.tick)
            raise
        finally:  # after a failure, the tick it happened in
            self.tick = t if done else self.clock.tick

    def _note(self, exc: BaseException, t: int) -> None:
        """Say which node raised `exc`, and at what tick (once, where it was raised)."""
        if getattr(exc, "_rlgraph_noted", False):
            return
        owner = self.nodes[self._ops[self._current[0]].name]
        exc._rlgraph_noted = True  # type: ignore[attr-defined]
        if getattr(exc, "node", None) is None:  # else it names whose problem it is
            exc.node = owner.name  # type: ignore[attr-defined]
        exc.add_note(f"rlgraph: raised by node '{owner.name}' ({type(owner).__name__}) "
                     f"at tick {t}")

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

    def report(self) -> dict[str, Any]:
        """Every node's report (numbers worth showing a person), keyed `node/metric`."""
        return {f"{name}/{key}": value for name, node in self.nodes.items()
                for key, value in node.report().items()}

    # ---- state ---------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume exactly: tick, trigger counters, values in flight
        on delayed wires, and every node's own state."""
        return {
            "tick": self.tick,
            "seeds": dict(self.seeds),
            "trigger_counts": {op.name: c for op, c in zip(self._ops, self._counts)},
            "delay_lines": [list(d.line) for d in self._lines],
            "nodes": {name: node.state_dict() for name, node in self.nodes.items()},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Load what state_dict saved (checked first: a checkpoint is input; ValueError
        when its tick, counters or delay lines do not fit this graph)."""
        tick, counts, lines = state["tick"], state["trigger_counts"], state["delay_lines"]
        if isinstance(tick, bool) or not isinstance(tick, int) or tick < 0:
            raise ValueError(f"tick {tick!r} is not a count of ticks")
        if not isinstance(counts, dict) or not all(
                isinstance(c, int) and not isinstance(c, bool) and c >= 0
                for c in counts.values()):
            raise ValueError("the trigger counters are not counts")
        if not isinstance(lines, list) or [len(s) if isinstance(s, list) else None
                                           for s in lines] != [d.line.maxlen for d in self._lines]:
            raise ValueError("the values in flight on delayed wires do not fit this "
                             "graph's delays")
        self.tick = tick
        self.clock.tick = self.tick
        self._counts[:] = [counts.get(op.name, 0) for op in self._ops]
        for d, saved in zip(self._lines, lines):
            d.line.clear()
            d.line.extend(saved)
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


def _silent() -> None:
    """A node that is fed nothing: it never fires (its `after` is NEVER)."""


def located(exc: NodeConfigError, name: str, node_spec: NodeSpec,
            tick: int | None = None) -> GraphErrors:
    """A node's complaint about its params or inputs, located at the node (or at the
    wire of the input it names) in the graph file."""
    edge = node_spec.inputs.get(exc.port) if exc.port else None
    loc = edge.loc if edge is not None else node_spec.loc
    message = exc.message if tick is None else f"{exc.message} (at tick {tick})"
    return GraphErrors([GraphError(message, loc, node=name, port=exc.port, hint=exc.hint)])
