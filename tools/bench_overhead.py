"""Engine overhead against a hand-written loop: graphs/dqn_notebook.yaml vs
tools/reference_dqn.py, the same algorithm, hyper-parameters, seed and env steps.

    python tools/bench_overhead.py [--steps 30000] [--repeats 5] [--seed 1] [--threads 1]

The two run alternately in this one process (graph, reference, graph, ...), with the
same torch thread count. Both take exactly `--steps` env steps. The number of gradient
updates is not fixed by the algorithm (10 per finished episode once the buffer holds
2000 transitions, and episode lengths depend on what each run learned), so the two
rarely do the same number. We therefore time the updates separately (the update burst
of each episode) and report, besides the raw wall times, a wall time normalized to the
reference's update count: acting time + updates_ref x time per update. The ratio is
graph / hand-written on those normalized times; the raw ratio is shown beside it.
Each figure is the median of `--repeats` alternated runs.

`--profile graph|reference` runs one of them once under cProfile instead and prints the
functions that take the most time.
"""

from __future__ import annotations

import argparse
import cProfile
import platform
import pstats
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from statistics import median
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import reference_dqn
from machine import cpu_model

from rlgraph.core import Graph, build, load

GRAPH = Path(__file__).resolve().parent.parent / "graphs" / "dqn_notebook.yaml"
#: the nodes of an update burst (sample -> loss -> optim, `repeat: 10`): their calls are
#: the graph's update time, as train() is the reference's
UPDATE_NODES = ("sample", "loss", "optim")


@dataclass
class Timing:
    """One run: wall time, the part spent in update bursts, and the counts."""

    wall_s: float
    train_s: float
    env_steps: int
    updates: int
    episodes: int

    @property
    def act_s(self) -> float:
        return self.wall_s - self.train_s

    def normalized(self, updates: int) -> float:
        """Wall time had this run done `updates` updates."""
        per_update = self.train_s / self.updates if self.updates else 0.0
        return self.act_s + per_update * updates


def time_nodes(graph: Graph, names: tuple[str, ...]) -> list[float]:
    """Wrap the steps of nodes `names` in timers (Graph.replace_step); returns the
    one-element list the seconds of all their calls accumulate in."""
    total = [0.0]
    for name in names:
        step = graph.nodes[name].step

        def timed(_step: Callable[..., Any] = step, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return _step(**kwargs)
            finally:
                total[0] += time.perf_counter() - start

        graph.replace_step(name, timed)
    return total


def run_graph(steps: int, seed: int, overrides: list[str]) -> Timing:
    graph = build(load(GRAPH, overrides=overrides), seed=seed)
    train = time_nodes(graph, UPDATE_NODES)
    start = time.perf_counter()
    graph.run(steps + 1)  # tick 0 only resets the env
    wall = time.perf_counter() - start
    env = graph.nodes["env"]
    timing = Timing(wall, train[0], env.env_steps, graph.nodes["optim"].updates,
                    env.episodes)
    graph.close()
    return timing


def run_reference(steps: int, seed: int) -> Timing:
    res = reference_dqn.run(steps, seed)
    return Timing(res.wall_s, res.train_s, res.env_steps, res.updates, res.episodes)


def profile(which: str, steps: int, seed: int, overrides: list[str]) -> None:
    prof = cProfile.Profile()
    prof.enable()
    if which == "graph":
        run_graph(steps, seed, overrides)
    else:
        run_reference(steps, seed)
    prof.disable()
    pstats.Stats(prof).sort_stats("tottime").print_stats(25)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30_000, help="env steps per run")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="NODE.PARAM=VALUE", help="override in the graph")
    parser.add_argument("--profile", choices=("graph", "reference"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.profile:
        profile(args.profile, args.steps, args.seed, args.overrides)
        return
    run_graph(2000, args.seed, args.overrides)  # warm up imports and allocators
    run_reference(2000, args.seed)
    graph_runs, ref_runs = [], []
    for _ in range(args.repeats):
        graph_runs.append(run_graph(args.steps, args.seed, args.overrides))
        ref_runs.append(run_reference(args.steps, args.seed))
    updates = ref_runs[0].updates  # the same in every repetition: fixed seed
    rows = [("graph (dqn_notebook.yaml)", graph_runs), ("hand-written (reference_dqn.py)",
                                                       ref_runs)]
    print(f"{cpu_model()}, {torch.get_num_threads()} torch thread(s), torch {torch.__version__}, "
          f"Python {platform.python_version()}; {args.steps} env steps, seed {args.seed}, "
          f"median of {args.repeats} alternated runs\n")
    print("| | wall s | updates | acting us/env step | us/update | wall s at "
          f"{updates} updates |")
    print("|---|---|---|---|---|---|")
    for label, runs in rows:
        print(f"| {label} | {median([r.wall_s for r in runs]):.2f} | {runs[0].updates} | "
              f"{median([r.act_s / r.env_steps for r in runs]) * 1e6:.1f} | "
              f"{median([r.train_s / max(1, r.updates) for r in runs]) * 1e6:.0f} | "
              f"{median([r.normalized(updates) for r in runs]):.2f} |")
    ratio = median([g.normalized(updates) / r.normalized(updates)
                    for g, r in zip(graph_runs, ref_runs)])
    raw = median([g.wall_s / r.wall_s for g, r in zip(graph_runs, ref_runs)])
    print(f"\nratio graph / hand-written: {ratio:.2f} at equal updates "
          f"(raw wall-time ratio {raw:.2f}; goal <= 1.0)")


if __name__ == "__main__":
    main()
