"""A worker of a placed run: the actors of the graph, run fragment by fragment.

A worker builds its part of the graph (core/placement.py's `Cut.built`: the actors, and
the learner nodes they take static inputs from, which never fire here) from the
resolved graph, with its own seed and its own param values (`placement.overrides`).
Each request runs a fragment of ticks: first the newest weights are loaded, if the
request brings them, then the ticks run and what the actors emitted on the channel
ports comes back, packed (fragments.py), with the actors' reports.

Ticks and env steps are counted as if the workers took turns: a fragment runs at the
ticks the learner will learn from it at when fragments arrive in the order they were
asked for (exact in sync mode), so that `every`/`after` on actors and schedules over
ticks mean the learner's ticks; an env node's count of env steps moves on by the steps
the other workers took meanwhile, at this worker's own rate. A node's exception is
caught here and sent back as a Failure, so that the learner raises it located (node,
tick, worker) and the worker process stays alive to be closed; only a dead process
means a restart.
"""

from __future__ import annotations

import os
import pickle
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..core import REGISTRY, CountsEnvSteps, GraphErrors, check_graph
from ..core.build import build
from ..core.placement import find_cut
from ..core.spec import GraphSpec, set_param
from .fragments import Column, Weights, columns_of, load_module_state


@dataclass
class WorkerSetup:
    """What a worker is built from."""

    spec: GraphSpec  # the resolved graph, placement included
    slot: int  # which worker it is: 0 .. workers - 1 (a replacement takes the slot over)
    seed: int  # its graph seed
    threads: int | None = None  # torch threads (None: $RLGRAPH_THREADS, else 1)


@dataclass
class Request:
    """Run `ticks` ticks from tick `start` with the weights of `version`."""

    start: int
    ticks: int
    version: int


@dataclass
class Fragment:
    """What a worker's actors emitted over a fragment of ticks."""

    slot: int
    start: int
    ticks: int
    version: int  # the weights it was collected with
    columns: dict[str, dict[str, Column]]  # actor node -> channel port -> column
    reports: dict[str, dict[str, Any]]  # actor node -> its report
    env_steps: dict[str, int]  # env steps this fragment took, per env node
    seconds: float  # spent running the ticks
    pid: int = 0


@dataclass
class Failure:
    """A problem inside a worker, to be raised by the learner as it was raised there."""

    slot: int
    text: str  # type, message and the worker's traceback
    errors: list[dict[str, Any]] = field(default_factory=list)  # a GraphErrors, as data
    exception: bytes | None = None  # any other exception, pickled with its notes


class Recorder:
    """Keeps what actor nodes return while a fragment runs (their steps wrapped)."""

    def __init__(self, clock: Any) -> None:
        self.clock = clock
        self.rows: dict[str, list[tuple[int, Mapping[str, Any]]]] = {}

    def wrap(self, name: str, step: Callable[..., Any]) -> Callable[..., Any]:
        rows = self.rows.setdefault(name, [])
        clock = self.clock

        def recorded(**inputs: Any) -> Any:
            out = step(**inputs)
            if out:
                rows.append((clock.tick, out))
            return out

        return recorded

    def take(self, channels: dict[str, list[str]], start: int
             ) -> dict[str, dict[str, Column]]:
        taken = {name: columns_of(self.rows[name], ports, start)
                 for name, ports in channels.items()}
        for rows in self.rows.values():
            rows.clear()
        return taken


class Worker:
    """One worker process's graph (see the module doc). Built by the pool (pool.py):
    as a Ray actor, or in the learner's own process."""

    def __init__(self, setup: WorkerSetup) -> None:
        self.slot = setup.slot
        self.failure: Failure | None = None
        self.version = -1
        self.next_tick: int | None = None  # where its last fragment ended
        self.rates: dict[str, int] = {}  # env node -> its env steps per tick
        self.behind: dict[str, int] = {}  # env node -> other workers' ticks not counted
        try:
            self._build(setup)
        except Exception as exc:
            self.failure = failure_of(exc, self.slot)

    def _build(self, setup: WorkerSetup) -> None:
        from ..workflow.runner import seed_globals, set_threads
        set_threads(setup.threads)
        spec = setup.spec
        placement = spec.placement
        assert placement is not None
        spec.seed = setup.seed
        for o in placement.overrides:
            set_param(spec.nodes[o.node].params, o.param, o.values[setup.slot], o.loc)
        checked = check_graph(spec, REGISTRY)
        if checked.errors:
            raise GraphErrors(checked.errors)
        cut = find_cut(spec, checked.classes)
        seed_globals(setup.seed)
        self.graph = build(checked, only=cut.built, firing=cut.actors)
        self.channels = cut.channels
        self.actors = [n for n in cut.actors if n in self.graph.nodes]
        self.recorder = Recorder(self.graph.clock)
        for name in self.channels:
            self.graph.replace_step(name, self.recorder.wrap(name, self.graph.nodes[name].step))
        self.modules = {f"{r.node}.{r.port}": self.graph.value(str(r)) for r in cut.weights}
        self.counters = {name: node for name, node in self.graph.nodes.items()
                         if name in cut.actors and isinstance(node, CountsEnvSteps)}
        self.behind = {name: 0 for name in self.counters}

    def run(self, request: Request, weights: Weights | None = None) -> Fragment | Failure:
        """One fragment (see the module doc)."""
        if self.failure is not None:
            return self.failure
        try:
            return self._run(request, weights)
        except Exception as exc:
            self.failure = failure_of(exc, self.slot)
            return self.failure

    def _run(self, request: Request, weights: Weights | None) -> Fragment:
        if weights is not None:
            for key, state in weights.items():
                load_module_state(self.modules[key], state)
        self.version = request.version
        graph = self.graph
        others = request.start - (self.next_tick or 0)  # ticks the other workers took
        for name in self.counters:
            self.behind[name] += others
        before = {name: node.env_steps for name, node in self.counters.items()}
        graph.tick = request.start
        started = time.perf_counter()
        left = request.ticks
        while left and any(self.behind[n] and n not in self.rates for n in self.counters):
            graph.run(1)  # until each env has stepped once: its steps per tick
            left -= 1
            for name, node in self.counters.items():
                if name not in self.rates and node.env_steps != before[name]:
                    self.rates[name] = node.env_steps - before[name]
        added = self._catch_up()
        graph.run(left)
        seconds = time.perf_counter() - started
        steps = {name: node.env_steps - before[name] - added[name]
                 for name, node in self.counters.items()}
        self.next_tick = request.start + request.ticks
        return Fragment(self.slot, request.start, request.ticks, self.version,
                        self.recorder.take(self.channels, request.start),
                        {name: dict(graph.nodes[name].report()) for name in self.actors},
                        steps, seconds, os.getpid())

    def _catch_up(self) -> dict[str, int]:
        """Move each env node's count of env steps on by the steps the other workers took
        since this worker last ran, at its own rate (once it is known); what was added."""
        added = {}
        for name, node in self.counters.items():
            rate = self.rates.get(name)
            added[name] = self.behind[name] * rate if rate is not None else 0
            node.env_steps += added[name]
            if rate is not None:
                self.behind[name] = 0
        return added

    def pid(self) -> int:
        """The worker's process id."""
        return os.getpid()

    def close(self) -> None:
        graph = getattr(self, "graph", None)
        if graph is not None:
            graph.close()


def failure_of(exc: BaseException, slot: int) -> Failure:
    """A worker's exception as data: a GraphErrors by its errors, anything else pickled
    (its notes say which node raised it, and at what tick)."""
    text = "".join(traceback.format_exception(exc))
    if isinstance(exc, GraphErrors):
        return Failure(slot, text, errors=[
            {"message": e.message, "file": e.loc.file if e.loc else None,
             "line": e.loc.line if e.loc else 0, "col": e.loc.col if e.loc else 0,
             "node": e.node, "port": e.port, "hint": e.hint} for e in exc.errors])
    try:
        blob: bytes | None = pickle.dumps(exc)
    except Exception:  # an exception that holds something unpicklable
        blob = None
    return Failure(slot, text, exception=blob)
