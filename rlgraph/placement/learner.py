"""The learner of a placed run: the built graph, its actors fed from worker fragments.

`PlacedGraph` takes over a built graph. Its actor nodes stop running in its tick
(Graph.feed): the outputs the learner reads come from fragments the workers send, one
tick of the fragment per learner tick, so a fragment of F ticks drives F learner ticks
and every `every`/`after`/`repeat` keeps counting env ticks, summed over workers (the
update-to-data ratio of the single-process graph). The learner keeps its own copy of
the actor nodes, built and never stepped: their static outputs, evaluation and
checkpoints use it.

Weights: the modules actors read are published (numpy, one put per version) at the
start and then after every `weights_every` ticks on which a node that changes them
fired (an update burst); a worker loads the newest version when its next request
brings it. The policy lag of a fragment is how many versions the learner has published
since the one it was collected with.

Requests: in async mode each worker has two requests queued, so it never waits on the
learner, and the learner learns from whichever fragment is ready first. In sync mode
the workers take turns: each gets one request with the same weights, and their
fragments are learned from in worker order, so the run is a function of the seed (with
one worker and one-tick fragments, the single-process run itself).

Faults: a worker whose process dies is replaced (a new seed, the latest weights) and
its lost requests are asked again, at most `restarts` times per session; an exception
a node raises inside a worker is raised here as it was raised there (node, tick,
worker), at once.
"""

from __future__ import annotations

import pickle
import statistics
import sys
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn

from ..core import CountsEnvSteps, Graph, GraphError, GraphErrors, Loc
from ..core.build import derive_seed
from ..core.placement import Placement, find_cut
from . import heap
from .fragments import Weights, module_state, outputs_by_tick
from .pool import Pool, WorkerDied
from .worker import Failure, Fragment, Request, WorkerSetup

ASYNC_QUEUE = 2  # requests queued per worker in async mode
WAIT_S = 0.5  # longest wait for a fragment before Python may handle a signal
LAG_WINDOW = 100  # fragments over which the policy lag is averaged


def worker_seed(seed: int, slot: int, incarnation: int, tick: int) -> int:
    """The graph seed of the worker in `slot`, started for the `incarnation`-th time at
    learner tick `tick`: the graph's own seed for the first worker of a run that starts
    at tick 0 (so that one worker reproduces the single-process run), a seed of its own
    (core.build.derive_seed) for any other."""
    if slot == 0 and incarnation == 0 and tick == 0:
        return seed
    return derive_seed(seed, f"worker{slot}.{incarnation}@{tick}")


@dataclass
class Slot:
    """One worker's place: its requests in flight and what the learner knows of it."""

    index: int
    incarnation: int = 0
    version: int = -1  # the weights it has (or will have, once its queue runs)
    queue: deque[tuple[Any, Request]] = field(default_factory=deque)
    report: dict[str, dict[str, Any]] = field(default_factory=dict)  # its actors', latest


class Feed:
    """The fragment being learned from: what each actor emitted, tick by tick."""

    def __init__(self, clock: Any) -> None:
        self.clock = clock
        self.start = 0  # the learner tick its first tick is learned at
        self.ticks = 0
        self.outputs: dict[str, list[dict[str, Any] | None]] = {}

    def source(self, name: str) -> Callable[[], Mapping[str, Any] | None]:
        """What node `name` emitted at the learner's current tick."""
        clock = self.clock

        def fed() -> Mapping[str, Any] | None:
            return self.outputs[name][clock.tick - self.start]

        return fed

    def install(self, fragment: Fragment, tick: int, names: list[str]) -> None:
        self.start, self.ticks = tick, fragment.ticks
        self.outputs = {name: outputs_by_tick(fragment.columns.get(name, {}), fragment.ticks)
                        for name in names}

    def left(self, tick: int) -> int:
        return self.start + self.ticks - tick


class PlacedGraph(Graph):
    """A built graph run as a placed run's learner (see the module doc)."""

    def __init__(self, graph: Graph, total: int, pool: Callable[[], Pool],
                 threads: int | None = None, quiet: bool = True) -> None:
        self.__dict__.update(graph.__dict__)  # takes over its nodes, slots and tick
        placement = self.spec.placement
        assert placement is not None and placement.workers > 0
        self.placement: Placement = placement
        self.cut = find_cut(self.spec, {n: type(node) for n, node in self.nodes.items()})
        assert not self.cut.errors, self.cut.errors
        self.total = total
        self.threads = threads
        self.quiet = quiet
        self._make_pool = pool
        self._pool: Pool | None = None
        # the cycle collector's thresholds before the run started (heap.py)
        self._thresholds: heap.Thresholds | None = None
        self._feed = Feed(self.clock)
        self._fed = list(self.cut.channels)
        for name in self.cut.actors:
            if type(self.nodes[name]).fires():
                self.feed(name, self._feed.source(name) if name in self.cut.channels
                          else None)
        self._modules = {f"{r.node}.{r.port}": self.value(str(r)) for r in self.cut.weights}
        self._bursts = 0
        writers = {w for ws in self.cut.writers.values() for w in ws}
        for writer in writers:
            self.replace_step(writer, self._counting(self.nodes[writer].step))
        self.slots = [Slot(i) for i in range(placement.workers)]
        self.version = -1
        self._weights: Any = None
        self._asked = self.tick  # the next tick a request starts at
        self.restarts = 0
        self.fragments = 0
        self._lags: deque[int] = deque(maxlen=LAG_WINDOW)
        self.learner_s = 0.0  # seconds spent in learner ticks
        self._fragment_steps: dict[str, int] = {}  # env steps of the fragment learned from
        self._counted: dict[str, int] = {}  # of those, counted so far
        self._worker_s = 0.0  # seconds workers spent running ticks
        self._started: float | None = None  # when the first fragment began
        self._env_steps = {n: 0 for n in self.cut.actors
                           if isinstance(self.nodes[n], CountsEnvSteps)}
        self._steps_at_start = {n: _env_steps(self.nodes[n]) for n in self._env_steps}

    def _counting(self, step: Callable[..., Any]) -> Callable[..., Any]:
        """`step`, counting the ticks on which it fired (update bursts)."""
        clock, last = self.clock, [-1]

        def counted(**inputs: Any) -> Any:
            if clock.tick != last[0]:
                last[0] = clock.tick
                self._bursts += 1
            return step(**inputs)

        return counted

    # ---- the loop ------------------------------------------------------------------
    def _run(self, n: int) -> None:
        if self._pool is None:
            self._start()
        end = self.tick + n
        while self.tick < end:
            if self._feed.left(self.tick) <= 0:
                self._learn_from(self._next_fragment())
            k = min(end - self.tick, self._feed.left(self.tick))
            began = time.perf_counter()
            super()._run(k)
            self.learner_s += time.perf_counter() - began
            self._count_env_steps()
            if self._bursts >= self.placement.weights_every:
                self._publish()

    def _start(self) -> None:
        p = self.placement
        if not self.quiet:
            print(f"placement: {p.workers} worker{'s' if p.workers != 1 else ''} run "
                  f"{', '.join(self.cut.actors)} ({p.mode}, fragments of {p.fragment} "
                  f"ticks); starting them", file=sys.stderr, flush=True)
        self._pool = self._make_pool()
        self._publish()
        for slot in self.slots:
            self._start_worker(slot)
        self._thresholds = heap.freeze()  # until close(): what exists now outlives the run

    def _start_worker(self, slot: Slot) -> None:
        assert self._pool is not None
        seed = worker_seed(self.spec.seed, slot.index, slot.incarnation, self.tick)
        self._pool.start(WorkerSetup(self.spec, slot.index, seed, self.threads))
        slot.version = -1

    def _fill(self) -> None:
        """Queue requests (called when the learner needs a fragment, so everything it
        was given is learned from): async, each worker up to ASYNC_QUEUE; sync, one per
        worker in turn once the last turn's fragments are all learned from."""
        if self.placement.mode == "sync":
            if all(not s.queue for s in self.slots):
                for slot in self.slots:
                    self._ask(slot)
            return
        for _ in range(ASYNC_QUEUE):  # round-robin: each worker's first, then seconds
            for slot in self.slots:
                if len(slot.queue) < ASYNC_QUEUE:
                    self._ask(slot)

    def _ask(self, slot: Slot, request: Request | None = None) -> bool:
        """Hand `slot` a request (the next ticks, or `request` again); False when every
        tick of the run has been asked for."""
        assert self._pool is not None
        if request is None:
            if self._asked >= self.total:
                return False
            request = Request(self._asked, min(self.placement.fragment,
                                               self.total - self._asked), self.version)
            self._asked += request.ticks
        else:
            request = Request(request.start, request.ticks, self.version)
        weights = self._weights if slot.version < self.version else None
        slot.version = self.version
        slot.queue.append((self._pool.submit(slot.index, request, weights), request))
        return True

    def _next_fragment(self) -> Fragment:
        """The next fragment to learn from: in sync mode the earliest asked for, in async
        mode the first ready; a dead worker is replaced on the way."""
        assert self._pool is not None
        while True:
            self._fill()
            heads = [s for s in self.slots if s.queue]
            if not heads:
                raise RuntimeError(f"placed run: no fragment is coming for tick {self.tick} "
                                   f"(ticks asked for: {self._asked} of {self.total})")
            if self.placement.mode == "sync":
                heads = [min(heads, key=lambda s: s.queue[0][1].start)]
            ready = self._pool.ready([s.queue[0][0] for s in heads], WAIT_S)
            if not ready:
                continue
            slot = min((heads[i] for i in ready), key=lambda s: s.queue[0][1].start)
            handle, request = slot.queue.popleft()
            try:
                result = self._pool.result(handle)
            except WorkerDied as died:
                self._replace(slot, request, str(died))
                continue
            if isinstance(result, Failure):
                raise_failure(result, self.placement.workers)
            assert isinstance(result, Fragment)
            return result

    def _replace(self, slot: Slot, lost: Request, why: str) -> None:
        """A new worker in a dead one's slot; its requests are asked again."""
        self.restarts += 1
        if self.restarts > self.placement.restarts:
            raise GraphErrors([GraphError(
                f"worker {slot.index} died ({why}) and the run has already replaced "
                f"{self.placement.restarts} dead worker"
                f"{'s' if self.placement.restarts != 1 else ''}, its limit",
                self.placement.where("restarts"),
                hint="find out why worker processes die (memory? a crashing simulator?), "
                     "or raise placement.restarts")])
        requests = [lost, *(r for _, r in slot.queue)]
        slot.queue.clear()
        slot.incarnation += 1
        if not self.quiet:
            print(f"placement: worker {slot.index} died ({why}); replacing it "
                  f"({self.restarts} of at most {self.placement.restarts} restarts)",
                  file=sys.stderr, flush=True)
        self._start_worker(slot)
        for request in requests:
            self._ask(slot, request)

    def _learn_from(self, fragment: Fragment) -> None:
        if self._started is None:  # rates count from the first fragment, not Ray's start
            self._started = time.perf_counter() - fragment.seconds
        self._feed.install(fragment, self.tick, self._fed)
        self.fragments += 1
        self._lags.append(self.version - fragment.version)
        self._worker_s += fragment.seconds
        self.slots[fragment.slot].report = fragment.reports
        self._fragment_steps = fragment.env_steps
        self._counted = dict.fromkeys(self._env_steps, 0)

    def _count_env_steps(self) -> None:
        """The learner's copy of each env node counts every worker's steps (the run's
        env steps), a fragment's share by share as its ticks are learned from."""
        done = 1 - self._feed.left(self.tick) / max(self._feed.ticks, 1)
        for name, steps in self._fragment_steps.items():
            now = round(steps * done)
            self._env_steps[name] += now - self._counted[name]
            self._counted[name] = now
            node = self.nodes[name]
            assert isinstance(node, CountsEnvSteps)
            node.env_steps = self._steps_at_start[name] + self._env_steps[name]

    def _publish(self) -> None:
        assert self._pool is not None
        weights: Weights = {key: module_state(m) for key, m in self._modules.items()}
        self.version += 1
        self._weights = self._pool.share(weights)
        self._bursts = 0

    # ---- what a person sees --------------------------------------------------------
    def report(self) -> dict[str, Any]:
        """The learner's nodes' reports, its actors' (the mean over workers of each
        number; env steps summed), and how the placement is doing."""
        out = {k: v for k, v in super().report().items()
               if k.partition("/")[0] not in self.cut.actors}
        reports = [s.report for s in self.slots if s.report]
        for name in self.cut.actors:
            keys = {k for r in reports for k in r.get(name, {})}
            for key in sorted(keys):
                values = [r[name][key] for r in reports if key in r.get(name, {})
                          and isinstance(r[name][key], (int, float))]
                if values:
                    out[f"{name}/{key}"] = statistics.fmean(values)
        wall = time.perf_counter() - self._started if self._started else 0.0
        for name, steps in self._env_steps.items():
            out[f"{name}/env_steps"] = self._steps_at_start[name] + steps
            out[f"{name}/steps_per_s"] = steps / wall if wall > 0 else 0.0
        out.update({
            "placement/workers": self.placement.workers,
            "placement/fragments": self.fragments,
            "placement/weights_version": max(self.version, 0),
            "placement/policy_lag": statistics.fmean(self._lags) if self._lags else 0.0,
            "placement/policy_lag_max": max(self._lags, default=0),
            "placement/learner_busy": self.learner_s / wall if wall > 0 else 0.0,
            "placement/worker_busy": (self._worker_s / (wall * self.placement.workers)
                                      if wall > 0 else 0.0),
            "placement/restarts": self.restarts,
        })
        return out

    def worker_pids(self) -> list[int]:
        """The process ids of the workers (started on the first tick run)."""
        return [] if self._pool is None else [self._pool.pid(s.index) for s in self.slots]

    def close(self) -> None:
        try:
            if self._pool is not None:
                self._pool.close()
                self._pool = None
        finally:
            if self._thresholds is not None:
                heap.thaw(self._thresholds)
                self._thresholds = None
            super().close()


def raise_failure(failure: Failure, workers: int) -> NoReturn:
    """Raise a worker's exception in the learner as it was raised in the worker, with
    which worker it was."""
    where = f"worker {failure.slot} of {workers}"
    if failure.errors:
        raise GraphErrors([GraphError(
            f"{e['message']} (in {where})",
            Loc(e["file"], e["line"], e["col"]) if e["file"] else None, node=e["node"],
            port=e["port"], hint=e["hint"]) for e in failure.errors])
    exc: BaseException | None = None
    if failure.exception is not None:
        try:
            exc = pickle.loads(failure.exception)  # from this run's own worker
        except Exception:
            exc = None
    if not isinstance(exc, BaseException):
        exc = WorkerError(failure.text.strip().splitlines()[-1])
    exc.add_note(f"rlgraph: in {where} (a process of its own); its traceback:\n"
                 + failure.text.rstrip())
    raise exc


class WorkerError(RuntimeError):
    """A worker's exception that could not be rebuilt in the learner (its text)."""


def _env_steps(node: Any) -> int:
    assert isinstance(node, CountsEnvSteps)
    return node.env_steps
