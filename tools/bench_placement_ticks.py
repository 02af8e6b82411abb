"""Where a placed CartPole tick's CPU goes on the learner: its phases, Ray's threads, the
cycle collector.

    python tools/bench_placement_ticks.py [--ticks 60000] [--workers 1]
    python tools/bench_placement_ticks.py --calls 2000

Runs the `collect` graph of tools/bench_placement.py (CartPole-v1, acting only: the
workers run the env and an epsilon-greedy MLP, the learner stores every transition)
on a local Ray cluster, fragments of 128 ticks, async, and after a warm-up times the
learner process over `--ticks` ticks, per learner tick:

- its main thread's CPU (time.thread_time) in each phase: the graph's own ticks
  (`ticks`: the replay buffer storing, the episode metrics), unpacking a fragment into
  per-tick values (`install`), and the pool's calls (`submit` a request over a worker's
  socket, `ready`: wait for one, `result`: read and decode it); `other` is the rest of
  the loop;
- the CPU of the process's other threads (Ray's, by thread name);
- the cycle collector's runs and time (counted in whichever phase they fell).

The workers' processes are not timed here (tools/bench_placement.py gives every
process's share). With `--workers 1` the learner waits on its worker most of the time;
its CPU per tick is what it would cost beside any number of workers.

`--calls N`: what one Ray call costs the learner's process (CPU of all its threads per
call, two calls in flight as in async mode) when an actor hands back a fixed 128-tick
CartPole fragment: asked with a Request and no weights (two arguments) and answered
with the Fragment itself, as Ray serializes objects, against asked with a tuple of
ints and answered with the fragment pickled to bytes, as pool.RayWorker did until
requests and fragments moved to a socket of each worker's own; and that socket, as
pool.RayPool now asks a worker (a pickled tuple in, the fragment pickled out).
"""

from __future__ import annotations

import argparse
import gc
import os
import pickle
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from multiprocessing.connection import Listener
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_placement import COLLECT
from machine import cpu_model

from rlgraph.core import Graph, build, load
from rlgraph.placement import learner as learner_module
from rlgraph.placement import placed
from rlgraph.placement import pool as pool_module
from rlgraph.placement.cluster import start_ray, stop_ray
from rlgraph.placement.worker import Fragment, Request, Worker, WorkerSetup

PHASES = {"ticks": (Graph, "_run"), "install": (learner_module.Feed, "install"),
          "submit": (pool_module.RayPool, "submit"), "ready": (pool_module.RayPool, "ready"),
          "result": (pool_module.RayPool, "result")}


def time_phases(spent: dict[str, float]) -> None:
    """Add each phase's main-thread CPU seconds to `spent` (the methods wrapped)."""
    for phase, (cls, name) in PHASES.items():
        method = getattr(cls, name)

        def timed(*args: Any, _method: Callable[..., Any] = method, _phase: str = phase,
                  **kwargs: Any) -> Any:
            began = time.thread_time()
            try:
                return _method(*args, **kwargs)
            finally:
                spent[_phase] += time.thread_time() - began

        setattr(cls, name, timed)


def thread_cpu() -> dict[tuple[str, str], float]:
    """CPU seconds of each thread of this process so far: (thread id, name) -> seconds."""
    out = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            stat = Path(f"/proc/self/task/{tid}/stat").read_text()
        except OSError:  # the thread ended
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat.rpartition(")")[2].split()
        out[(tid, name)] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return out


class Answer:
    """An actor that answers every call with the same fragment, in two forms."""

    def __init__(self, fragment: Fragment) -> None:
        self.fragment = fragment

    def as_object(self, request: Request, weights: Any = None) -> Fragment:
        return self.fragment

    def as_bytes(self, request: tuple[int, int, int], weights: Any = None) -> bytes:
        return pickle.dumps(self.fragment, protocol=pickle.HIGHEST_PROTOCOL)

    def listen(self, address: str, authkey: bytes) -> None:
        self.listener = Listener(address, family="AF_UNIX", authkey=authkey)

    def serve(self) -> None:
        """As pool.RayWorker.serve: a pickled request in, the fragment pickled out."""
        conn = self.listener.accept()
        self.listener.close()
        try:
            while True:
                pickle.loads(conn.recv_bytes())
                conn.send_bytes(pickle.dumps(self.fragment, protocol=pickle.HIGHEST_PROTOCOL))
        except EOFError:
            conn.close()


def socket_costs(actor: Any, calls: int) -> float:
    """The learner process's CPU per request answered over the actor's socket (as
    pool.RayPool asks its workers), two requests in flight."""
    from multiprocessing.connection import Client, wait

    import ray
    folder = tempfile.mkdtemp(prefix="rlgraph-channels-")
    try:
        address, key = os.path.join(folder, "answer"), os.urandom(32)
        ray.get(actor.listen.remote(address, key))
        serving = actor.serve.remote()
        conn = Client(address, family="AF_UNIX", authkey=key)
        for _ in range(2):
            conn.send_bytes(pickle.dumps((0, 128, 0, False)))
        cpu0 = time.process_time()
        for i in range(calls):
            wait([conn])
            pickle.loads(conn.recv_bytes())
            conn.send_bytes(pickle.dumps((i, 128, 0, False)))
        spent = (time.process_time() - cpu0) / calls
        for _ in range(2):
            conn.recv_bytes()
        conn.close()
        ray.get(serving)
        return spent
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def call_costs(path: Path, calls: int) -> None:
    """Print the learner process's CPU per Ray call, object against bytes (--calls)."""
    import ray
    checked = load(path, overrides=["placement.workers=1"])
    worker = Worker(WorkerSetup(checked.spec, slot=0, seed=1, threads=1))
    worker.run(Request(0, 3000, 0))  # an epsilon past its start, episodes ending
    fragment = worker.run(Request(3000, 128, 0))
    assert isinstance(fragment, Fragment)
    worker.close()
    forms: dict[str, tuple[str, Callable[[int], tuple[Any, ...]], Callable[[Any], Any]]] = {
        "Request, None -> Fragment": ("as_object", lambda i: (Request(i, 128, 0), None),
                                      lambda r: r),
        "(start, ticks, version) -> bytes": ("as_bytes", lambda i: ((i, 128, 0),),
                                             pickle.loads)}
    start_ray()
    try:
        actor = ray.remote(Answer).options(num_cpus=0, max_concurrency=2).remote(fragment)
        print(f"machine: {cpu_model()}, {os.cpu_count()} cores, load "
              f"{os.getloadavg()[0]:.1f}; learner process CPU per call, {calls:,} calls")
        for _ in range(2):  # each form twice, interleaved: the machine may be shared
            for label, (method, args, decode) in forms.items():
                call = getattr(actor, method)
                flight = [call.remote(*args(0)) for _ in range(2)]
                cpu0 = time.process_time()
                for i in range(calls):
                    ray.wait(flight[:1], num_returns=1)
                    decode(ray.get(flight.pop(0)))
                    flight.append(call.remote(*args(i)))
                spent = (time.process_time() - cpu0) / calls
                ray.get(flight)
                print(f"  {label:<34}{spent * 1e6:>6.0f} µs")
            print(f"  {'over the worker socket (RayPool)':<34}"
                  f"{socket_costs(actor, calls) * 1e6:>6.0f} µs")
    finally:
        stop_ray()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ticks", type=int, default=60000, help="ticks timed")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--calls", type=int, default=0,
                        help="time this many Ray calls instead (see the module doc)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    path = Path(tempfile.mkdtemp(prefix="bench_placement_ticks_")) / "collect.yaml"
    path.write_text(COLLECT.format(env="CartPole-v1", fragment=128), encoding="utf-8")
    if args.calls:
        call_costs(path, args.calls)
        return 0
    spent: dict[str, float] = defaultdict(float)
    time_phases(spent)
    collections: dict[int, list[float]] = defaultdict(lambda: [0, 0.0])
    began = [0.0]

    def on_collect(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            began[0] = time.thread_time()
        else:
            runs = collections[info["generation"]]
            runs[0] += 1
            runs[1] += time.thread_time() - began[0]

    start_ray()
    try:
        checked = load(path, overrides=[f"placement.workers={args.workers}"])
        with placed(build(checked), 10**9, threads=1) as graph:
            graph.run(3000)  # the workers started, imported and warm
            spent.clear()
            gc.callbacks.append(on_collect)
            threads0, main0 = thread_cpu(), time.thread_time()
            wall0 = time.perf_counter()
            graph.run(args.ticks)
            wall = time.perf_counter() - wall0
            main_s = time.thread_time() - main0
            threads = thread_cpu()
            gc.callbacks.remove(on_collect)
    finally:
        stop_ray()
    per_tick = 1e6 / args.ticks
    print(f"machine: {cpu_model()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; "
          f"{args.workers} worker(s), {args.ticks:,} ticks at {args.ticks / wall:,.0f}/s")
    print(f"learner main thread: {main_s * per_tick:.1f} µs CPU per tick")
    for phase in PHASES:
        print(f"  {phase:<8}{spent[phase] * per_tick:>6.1f}")
    print(f"  {'other':<8}{(main_s - sum(spent.values())) * per_tick:>6.1f}")
    others: dict[str, float] = defaultdict(float)
    for (tid, name), seconds in threads.items():
        if int(tid) != os.getpid():  # the main thread's id is the process's
            others[name] += seconds - threads0.get((tid, name), 0.0)
    named = sorted(((s, n) for n, s in others.items() if s > 0), reverse=True)
    print(f"other threads: {sum(others.values()) * per_tick:.1f} µs CPU per tick ("
          + ", ".join(f"{n} {s * per_tick:.1f}" for s, n in named) + ")")
    print("cycle collector (in the phases above): " + (", ".join(
        f"generation {g}: {runs:.0f} runs, {s * per_tick:.2f} µs per tick"
        for g, (runs, s) in sorted(collections.items())) or "no runs"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
