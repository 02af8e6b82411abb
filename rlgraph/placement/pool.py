"""Where the workers of a placed run live: Ray actors (RayPool), or this process
(InlinePool).

A pool starts a worker in a slot, hands it requests, and gives back results as they
come in. The learner (learner.py) needs nothing else from it, so the same bookkeeping
runs over Ray processes and, for tests and debugging, over workers that run each
request in the learner's own process when it is handed over.
"""

from __future__ import annotations

import contextlib
import pickle
from collections.abc import Sequence
from typing import Any, Protocol

from . import heap
from .fragments import Weights
from .worker import Failure, Fragment, Request, Worker, WorkerSetup, failure_of


class WorkerDied(Exception):
    """A worker's process is gone (killed, crashed): its requests are lost."""


class Pool(Protocol):
    def start(self, setup: WorkerSetup) -> None:
        """(Re)start the worker of slot `setup.slot`."""

    def submit(self, slot: int, request: Request, weights: Any) -> Any:
        """Hand a request to a worker; a handle on its result."""

    def share(self, weights: Weights) -> Any:
        """Weights as they are handed to workers (put once, read by each)."""

    def ready(self, handles: Sequence[Any], timeout: float) -> list[int]:
        """The positions in `handles` of those whose results are in (waiting up to
        `timeout` seconds for one)."""

    def result(self, handle: Any) -> Fragment | Failure:
        """The result behind a ready handle; WorkerDied when its worker's process died."""

    def pid(self, slot: int) -> int:
        """The process id of a slot's worker."""

    def close(self) -> None:
        """Stop every worker."""


class InlinePool:
    """Workers in the learner's process: a request runs when it is handed over, so the
    order of everything is fixed. No process dies here."""

    def __init__(self) -> None:
        self.workers: dict[int, Worker] = {}

    def start(self, setup: WorkerSetup) -> None:
        old = self.workers.pop(setup.slot, None)
        if old is not None:
            old.close()
        # its own copy of the graph, as a worker process gets
        self.workers[setup.slot] = Worker(pickle.loads(pickle.dumps(setup)))

    def submit(self, slot: int, request: Request, weights: Any) -> Any:
        return self.workers[slot].run(request, weights)

    def share(self, weights: Weights) -> Any:
        return weights

    def ready(self, handles: Sequence[Any], timeout: float) -> list[int]:
        return list(range(len(handles)))  # each ran when it was handed over

    def result(self, handle: Any) -> Fragment | Failure:
        return handle

    def pid(self, slot: int) -> int:
        return self.workers[slot].pid()

    def close(self) -> None:
        for worker in self.workers.values():
            worker.close()
        self.workers.clear()


class RayWorker(Worker):
    """A worker as a Ray actor: a process of its own, its graph alive as long as it is.

    Requests come as plain tuples and results leave pickled, as bytes: Ray serializes
    each argument and result of a call on its own, and a Request and a None asked, a
    fragment of nested dataclasses answered, cost the learner's process ~80 µs more
    per call than a tuple of ints and bytes do, of the 700-850 µs of CPU a call costs it
    in all (tools/bench_placement_ticks.py --calls)."""

    def __init__(self, setup: WorkerSetup) -> None:
        super().__init__(setup)
        heap.freeze()  # for good: the process is the worker's

    def run_packed(self, request: tuple[int, int, int], weights: Weights | None = None
                   ) -> bytes:
        """`Worker.run` for a request (start, ticks, version), its result pickled."""
        result = self.run(Request(*request), weights)
        try:
            return pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # an actor emitted a value that cannot travel
            exc.add_note(f"rlgraph: while sending the outputs of a fragment of "
                         f"{request[1]} ticks from tick {request[0]} to the learner")
            self.failure = failure_of(exc, self.slot)
            return pickle.dumps(self.failure, protocol=pickle.HIGHEST_PROTOCOL)


class RayPool:
    """Each worker a Ray actor (a process of its own) on a local cluster bound to the
    loopback interface (cluster.py), started here unless one is connected already."""

    def __init__(self, cpus: int | None = None) -> None:
        import ray

        from .cluster import start_ray
        self.ray = ray
        self.started = start_ray(cpus)
        # num_cpus=0: the workers are placed whatever the cluster's CPU count; the
        # machine's scheduler shares the cores
        self.actor_class = ray.remote(num_cpus=0, max_restarts=0)(RayWorker)
        self.actors: dict[int, Any] = {}

    def start(self, setup: WorkerSetup) -> None:
        old = self.actors.pop(setup.slot, None)
        if old is not None:
            self.ray.kill(old)
        self.actors[setup.slot] = self.actor_class.remote(setup)

    def submit(self, slot: int, request: Request, weights: Any) -> Any:
        run = self.actors[slot].run_packed
        asked = (request.start, request.ticks, request.version)
        # an argument less when no weights travel: Ray serializes each one it is given
        return run.remote(asked) if weights is None else run.remote(asked, weights)

    def share(self, weights: Weights) -> Any:
        return self.ray.put(weights)

    def ready(self, handles: Sequence[Any], timeout: float) -> list[int]:
        done, _ = self.ray.wait(list(handles), num_returns=1, timeout=timeout)
        return [i for i, h in enumerate(handles) if h in done]

    def result(self, handle: Any) -> Fragment | Failure:
        try:
            blob = self.ray.get(handle)
        except self.ray.exceptions.RayActorError as exc:
            raise WorkerDied(_first_line(exc)) from None
        result = pickle.loads(blob)  # from this run's own worker
        assert isinstance(result, (Fragment, Failure))
        return result

    def pid(self, slot: int) -> int:
        return int(self.ray.get(self.actors[slot].pid.remote()))

    def close(self) -> None:
        for actor in self.actors.values():
            with contextlib.suppress(Exception):  # gone already
                self.ray.kill(actor)
        self.actors.clear()
        if self.started:
            from .cluster import stop_ray
            stop_ray()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
