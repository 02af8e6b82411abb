"""Where the workers of a placed run live: Ray actors (RayPool), or this process
(InlinePool).

A pool starts a worker in a slot, hands it requests, and gives back results as they
come in. The learner (learner.py) needs nothing else from it, so the same bookkeeping
runs over Ray processes and, for tests and debugging, over workers that run each
request in the learner's own process when it is handed over.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import queue
import shutil
import tempfile
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Client, Connection, Listener, wait
from pathlib import Path
from typing import Any, Protocol

from . import heap
from .fragments import Weights
from .worker import Failure, Fragment, Request, Worker, WorkerSetup, failure_of

#: seconds a new worker may take to build its graph and open its socket
START_S = 300.0
#: seconds to wait for Ray's word on why a worker's connection ended
WHY_S = 5.0
#: the longest socket path used (a Unix socket's address holds 104-108 bytes)
SOCKET_PATH_MAX = 96
#: `take_weights` calls remembered per worker (see RayPool.pushes)
PUSHES_KEPT = 8


def socket_folder() -> Path:
    """A new folder for a run's worker sockets, private to this user: in the temporary
    folder, or in /tmp where that path is too long for a Unix socket's address (about
    100 bytes on Linux and macOS; $TMPDIR on macOS is often half of it already)."""
    base = tempfile.gettempdir()
    if len(os.path.join(base, "rlgraph-channels-xxxxxxxx", "worker-00-0000")) > SOCKET_PATH_MAX:
        base = "/tmp"
    return Path(tempfile.mkdtemp(prefix="rlgraph-channels-", dir=base))


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

    Ray starts, watches and stops the process, and carries the weights: put once in its
    object store per version, read by each worker (`take_weights`, a call beside
    `serve`). Requests and fragments do not travel as Ray calls but over a connection of
    the worker's own (`listen`, then `serve`): a Unix socket in the learner's private
    temporary folder, authenticated with a key only the learner and its workers hold
    (multiprocessing.connection). A Ray call cost the learner's process 700-850 µs of
    CPU, 5-7 µs per CartPole tick at one call per 128-tick fragment, and Ray's threads
    as much again; a message over the socket costs tens of µs
    (tools/bench_placement_ticks.py). Requests come as tuples of ints, fragments leave
    pickled.
    """

    def __init__(self, setup: WorkerSetup) -> None:
        super().__init__(setup)
        heap.freeze()  # for good: the process is the worker's
        self.listener: Listener | None = None
        self.inbox: dict[int, Weights] = {}  # version -> weights not yet loaded
        self.arrived = threading.Condition()
        self.hung_up = False

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

    def listen(self, address: str, authkey: bytes) -> None:
        """Open the worker's socket at `address` (a path in the learner's folder)."""
        self.listener = Listener(address, family="AF_UNIX", authkey=authkey)

    def take_weights(self, version: int, weights: Weights) -> None:
        """Keep the weights of `version` for the request that asks for them."""
        with self.arrived:
            self.inbox[version] = weights
            self.arrived.notify_all()

    def _weights_of(self, version: int) -> Weights | None:
        """The weights of `version` once they arrived (None: the learner hung up); older
        versions still waiting are dropped."""
        with self.arrived:
            while version not in self.inbox and not self.hung_up:
                self.arrived.wait(timeout=1.0)
            weights = self.inbox.pop(version, None)
            for old in [v for v in self.inbox if v < version]:
                del self.inbox[old]
            return weights

    def serve(self) -> None:
        """Answer the learner's requests, in order, until it hangs up: the worker's one
        long call. A request is (start, ticks, version, with weights); a thread reads
        them as they come, so that the learner never waits on a worker busy with a
        fragment."""
        assert self.listener is not None
        conn = self.listener.accept()
        self.listener.close()
        requests: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()

        def read() -> None:
            try:
                while True:
                    requests.put(conn.recv_bytes())
            except (EOFError, OSError):  # the learner hung up
                with self.arrived:
                    self.hung_up = True
                    self.arrived.notify_all()
                requests.put(None)

        threading.Thread(target=read, name="rlgraph-requests", daemon=True).start()
        while (message := requests.get()) is not None:
            start, ticks, version, with_weights = pickle.loads(message)  # the learner's
            weights = self._weights_of(version) if with_weights else None
            if with_weights and weights is None:
                break
            try:
                conn.send_bytes(self.run_packed((start, ticks, version), weights))
            except OSError:  # the learner hung up
                break
        conn.close()


@dataclass
class Pending:
    """A request handed to a worker over its connection; its result comes back on it
    (a worker answers its requests in order)."""

    slot: int
    conn: Connection | None  # None: the worker died before it could be asked
    died: str = ""


class RayPool:
    """Each worker a Ray actor (a process of its own) on a local cluster bound to the
    loopback interface (cluster.py), started here unless one is connected already.
    Requests and fragments travel over each worker's own connection (RayWorker)."""

    def __init__(self, cpus: int | None = None) -> None:
        import ray

        from .cluster import start_ray
        self.ray = ray
        self.started = start_ray(cpus)
        # num_cpus=0: the workers are placed whatever the cluster's CPU count; the
        # machine's scheduler shares the cores. Two threads: `serve` holds one for as
        # long as the worker lives, `pid` is answered beside it.
        self.actor_class = ray.remote(RayWorker).options(
            num_cpus=0, max_restarts=0, max_concurrency=2)
        self.authkey = os.urandom(32)
        # the sockets' folder, private to this user and removed by close(): a worker
        # that is killed leaves nothing behind
        self.folder = socket_folder()
        self.started_workers = 0
        self.actors: dict[int, Any] = {}
        self.listening: dict[int, tuple[str, Any]] = {}  # slot -> (socket, `listen` call)
        self.serving: dict[int, Any] = {}  # slot -> its `serve` call
        self.conns: dict[int, Connection] = {}
        # slot -> its latest `take_weights` calls: a dead worker's are fetched (their
        # errors are expected) rather than left for Ray to report as unhandled
        self.pushes: dict[int, deque[Any]] = {}

    def start(self, setup: WorkerSetup) -> None:
        self._drop(setup.slot)
        actor: Any = self.actor_class.remote(setup)
        self.actors[setup.slot] = actor
        # answered once the worker has built its graph; the learner connects when it
        # first asks for a fragment, so that workers start side by side
        self.started_workers += 1
        address = str(self.folder / f"worker-{setup.slot}-{self.started_workers}")
        self.listening[setup.slot] = (address, actor.listen.remote(address, self.authkey))

    def _connect(self, slot: int) -> Connection:
        conn = self.conns.get(slot)
        if conn is not None:
            return conn
        address, listening = self.listening.pop(slot)
        try:
            self.ray.get(listening, timeout=START_S)
        except self.ray.exceptions.RayActorError as exc:
            raise WorkerDied(_first_line(exc)) from None
        except self.ray.exceptions.GetTimeoutError:
            raise WorkerDied(f"it did not start within {START_S:.0f} s") from None
        except self.ray.exceptions.RayTaskError as exc:  # the socket could not be opened
            cause = getattr(exc, "cause", None) or exc
            raise WorkerDied(f"it could not open its socket {address}: "
                             f"{type(cause).__name__}: {cause}") from None
        self.serving[slot] = self.actors[slot].serve.remote()
        conn = self.conns[slot] = Client(address, family="AF_UNIX", authkey=self.authkey)
        return conn

    def submit(self, slot: int, request: Request, weights: Any) -> Any:
        try:
            conn = self._connect(slot)
            if weights is not None:
                self.pushes.setdefault(slot, deque(maxlen=PUSHES_KEPT)).append(
                    self.actors[slot].take_weights.remote(request.version, weights))
            conn.send_bytes(pickle.dumps((request.start, request.ticks, request.version,
                                          weights is not None)))
        except WorkerDied as died:
            return Pending(slot, None, str(died))
        except OSError:  # it died since: result() says how
            pass
        return Pending(slot, self.conns.get(slot))

    def share(self, weights: Weights) -> Any:
        return self.ray.put(weights)

    def ready(self, handles: Sequence[Any], timeout: float) -> list[int]:
        dead = [i for i, h in enumerate(handles) if h.conn is None]
        if dead:
            return dead
        readable = set(wait([h.conn for h in handles], timeout))  # data, or the end
        return [i for i, h in enumerate(handles) if h.conn in readable]

    def result(self, handle: Any) -> Fragment | Failure:
        if handle.conn is None:
            raise WorkerDied(handle.died)
        try:
            blob = handle.conn.recv_bytes()
        except (EOFError, OSError):
            raise WorkerDied(self._why_gone(handle.slot)) from None
        result = pickle.loads(blob)  # from this run's own worker, over its authenticated socket
        assert isinstance(result, (Fragment, Failure))
        return result

    def _why_gone(self, slot: int) -> str:
        """What Ray says of a worker whose connection ended."""
        for push in self.pushes.pop(slot, ()):  # their errors say the same; fetched
            with contextlib.suppress(Exception):  # so that Ray does not report them
                self.ray.get(push, timeout=WHY_S)
        try:
            self.ray.get(self.serving[slot], timeout=WHY_S)
        except self.ray.exceptions.RayActorError as exc:
            return _first_line(exc)
        except Exception:  # still shutting down, or gone without a word
            pass
        return "its process ended"

    def pid(self, slot: int) -> int:
        return int(self.ray.get(self.actors[slot].pid.remote()))

    def _drop(self, slot: int) -> None:
        conn = self.conns.pop(slot, None)
        if conn is not None:
            conn.close()  # the worker's serve() sees the end
        self.listening.pop(slot, None)
        self.serving.pop(slot, None)
        self.pushes.pop(slot, None)
        actor = self.actors.pop(slot, None)
        if actor is not None:
            with contextlib.suppress(Exception):  # gone already
                self.ray.kill(actor)

    def close(self) -> None:
        for slot in list(self.actors):
            self._drop(slot)
        shutil.rmtree(self.folder, ignore_errors=True)
        if self.started:
            from .cluster import stop_ray
            stop_ray()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
