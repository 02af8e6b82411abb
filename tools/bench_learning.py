"""How fast does a graph learn? Env steps until greedy evaluation solves the task.

    python tools/bench_learning.py graphs/dqn_target.yaml --seeds 1 2 3 4 5

For each seed the graph is built and run; every `--eval-every` env steps the Q-network
(`--q`, default qnet.module) is evaluated greedily on `--eval-episodes` fresh episodes
of the graph's own environment. A seed is solved at the first evaluation whose mean
return reaches `--threshold` (475 for CartPole-v1). Prints a markdown table: per seed
the env steps to solve, the wall time to get there (training only, evaluation
excluded), and the best evaluation seen.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import torch

from rlgraph.core import build, load
from rlgraph.nodes.envs import GymEnv
from rlgraph.workflow.evaluate import evaluate_graph

EVAL_SEED = 1_000_000  # evaluation episodes never reuse a training seed


@dataclass
class SeedResult:
    seed: int
    solved_at: int | None  # env steps, None if never solved
    train_s: float  # wall time spent in graph.run until solved or the end
    train_cpu_s: float  # CPU time of this process in graph.run (less load-sensitive)
    best_eval: float
    env_steps: int  # env steps run in all


def run_seed(path: str, seed: int, max_steps: int, eval_every: int, eval_episodes: int,
             threshold: float, q_ref: str, threads: int, overrides: list[str]) -> SeedResult:
    torch.set_num_threads(threads)
    graph = build(load(path, overrides=overrides), seed=seed)
    env_node = next(n for n in graph.nodes.values() if isinstance(n, GymEnv))
    train_s, train_cpu_s, best, solved_at = 0.0, 0.0, float("-inf"), None
    with graph:
        while env_node.env_steps < max_steps:
            next_eval = min(max_steps, (env_node.env_steps // eval_every + 1) * eval_every)
            ticks = -(-(next_eval - env_node.env_steps) // env_node.num_envs)
            start, start_cpu = time.perf_counter(), time.process_time()
            graph.run(ticks + (graph.tick == 0))  # tick 0 only resets the env
            train_s += time.perf_counter() - start
            train_cpu_s += time.process_time() - start_cpu
            score = evaluate_graph(graph, eval_episodes, EVAL_SEED + graph.tick, q_ref).mean
            best = max(best, score)
            if score >= threshold:
                solved_at = env_node.env_steps
                break
    return SeedResult(seed, solved_at, train_s, train_cpu_s, best, env_node.env_steps)


def table(title: str, results: list[SeedResult], max_steps: int) -> str:
    lines = [f"**{title}** — env steps until the mean greedy return reaches the threshold",
             "", "| seed | solved at (env steps) | train wall time (s) | train CPU time (s) "
             "| best eval return |", "|---:|---:|---:|---:|---:|"]
    for r in results:
        solved = f"{r.solved_at:,}" if r.solved_at is not None else f"not in {max_steps:,}"
        lines.append(f"| {r.seed} | {solved} | {r.train_s:.1f} | {r.train_cpu_s:.1f} "
                     f"| {r.best_eval:.1f} |")
    steps = [r.solved_at for r in results if r.solved_at is not None]
    summary = f"solved {len(steps)}/{len(results)}"
    if len(steps) == len(results):
        summary += f"; median {statistics.median(steps):,.0f} env steps, max {max(steps):,}"
    times = [r.train_s for r in results]
    summary += f"; median train wall time {statistics.median(times):.1f} s"
    cpu = [r.train_cpu_s for r in results]
    summary += f", CPU time {statistics.median(cpu):.1f} s"
    return "\n".join([*lines, "", summary])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("graph", help="graph file, e.g. graphs/dqn_target.yaml")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--max-steps", type=int, default=50_000, help="env steps per seed")
    parser.add_argument("--eval-every", type=int, default=1_000, help="env steps")
    parser.add_argument("--eval-episodes", type=int, default=10)
    parser.add_argument("--threshold", type=float, default=475.0)
    parser.add_argument("--q", default="qnet.module", help="the Q-network to evaluate")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per seed")
    parser.add_argument("--jobs", type=int, default=1, help="seeds run in parallel")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="override a param or trigger, as in "
                        "`rlgraph run --set`")
    args = parser.parse_args(argv)
    if not Path(args.graph).exists():
        print(f"no such graph file: {args.graph}", file=sys.stderr)
        return 2
    job_args = [(args.graph, seed, args.max_steps, args.eval_every, args.eval_episodes,
                 args.threshold, args.q, args.threads, args.overrides) for seed in args.seeds]
    if args.jobs > 1:
        with ProcessPoolExecutor(args.jobs) as pool:
            results = list(pool.map(run_seed, *zip(*job_args)))
    else:
        results = []
        for a in job_args:
            results.append(run_seed(*a))
            r = results[-1]
            print(f"seed {r.seed}: solved at {r.solved_at} env steps, "
                  f"{r.train_s:.1f} s ({r.train_cpu_s:.1f} s CPU), best eval "
                  f"{r.best_eval:.1f}", file=sys.stderr)
    title = " ".join([args.graph] + [f"--set {o}" for o in args.overrides])
    print(table(title, results, args.max_steps))
    return 0 if all(r.solved_at is not None for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
