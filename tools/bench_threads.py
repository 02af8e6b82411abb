"""Torch intra-op threads: wall time of a graph run with 1, 2, ... threads.

    python tools/bench_threads.py graphs/dqn_target.yaml [--ticks 10000] [--threads 1 2]
                                  [--repeats 3] [--set NODE.PARAM=VALUE ...]

Each thread count runs the same graph (same seed, same ticks, so the same work) in its
own fresh process; the counts alternate and each figure is the median of `--repeats`.
Small networks gain nothing from more threads and lose to thread hand-off; on a
machine whose cores are shared the loss is larger.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

from machine import cpu_model  # tools/, beside this script


def measure(path: str, ticks: int, threads: int, overrides: list[str]) -> float:
    """Seconds for `ticks` ticks of the graph with `threads` torch threads."""
    import torch

    from rlgraph.core import build, load
    torch.set_num_threads(threads)
    graph = build(load(path, overrides=overrides), seed=1)
    start = time.perf_counter()
    graph.run(ticks)
    elapsed = time.perf_counter() - start
    graph.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("graph")
    parser.add_argument("--ticks", type=int, default=10_000)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps({"s": measure(args.graph, args.ticks, args.one, args.overrides)}))
        return
    times: dict[int, list[float]] = {t: [] for t in args.threads}
    sets = [f"--set={o}" for o in args.overrides]
    for _ in range(args.repeats):
        for t in args.threads:
            out = subprocess.run([sys.executable, __file__, args.graph, "--ticks",
                                  str(args.ticks), "--one", str(t), *sets], check=True,
                                 capture_output=True, text=True).stdout
            times[t].append(json.loads(out.strip().splitlines()[-1])["s"])
    print(f"{cpu_model()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"{args.graph}, {args.ticks} ticks, median of {args.repeats} alternated runs\n")
    first = args.threads[0]
    print(f"| torch threads | wall s | vs {first} thread{'s' * (first > 1)} |")
    print("|---|---|---|")
    base = statistics.median(times[first])
    for t in args.threads:
        m = statistics.median(times[t])
        print(f"| {t} | {m:.2f} | {m / base:.2f}x |")


if __name__ == "__main__":
    main()
