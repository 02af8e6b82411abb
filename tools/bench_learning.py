"""How good is the agent a graph ends with? Final greedy return over seeds, with the
evaluation curve that led there.

    python tools/bench_learning.py graphs/dqn_target.yaml [graphs/per_dqn.yaml ...] \\
        --seeds 1 2 3 4 5 --jobs 2 [--set env.id=Acrobot-v1] [--json results.json]

Each graph runs for its own `steps` (or `--steps`) once per seed, evaluated as
`rlgraph run` evaluates it (rlgraph.workflow.scoring.RunEvaluation): `--eval-episodes`
greedy episodes every `--eval-every` ticks (default a twentieth of the run), always the
same episodes (env seeds 1000000, 1000001, ...), and `--final-episodes` (20) at the end.
Per graph it prints a markdown table per seed and a summary line:

- final: the final evaluation's mean return per seed; over seeds its mean and min, and
  the interquartile mean (IQM: the mean of the middle half of the seeds, as rliable
  recommends, Agarwal et al. 2021) with a 95% percentile-bootstrap confidence interval
  over seeds;
- solved: seeds whose final mean reaches the threshold (`--threshold`, default the env's
  `spec.reward_threshold`: 475 for CartPole-v1, -100 for Acrobot-v1); stays solved:
  seeds whose last three evaluations (the final one included) all reach it;
- AUC: the area under the evaluation curve divided by its length in env steps, i.e. the
  average greedy return during training (higher: learns sooner and stays);
- first solve: env steps of the first evaluation that reaches the threshold;
- wall / CPU: training time only (evaluations excluded), per seed.

`--stop-at-solve` stops each seed at its first solving evaluation (the benchmark before
the final-agent figures: env steps until first solved). The exit code is 0 when every
seed of every graph ends solved.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from rlgraph.core import build, load
from rlgraph.workflow.scoring import RunEvaluation

BOOTSTRAP_REPS = 2000


@dataclass
class SeedResult:
    graph: str
    seed: int
    curve: list[tuple[int, float]]  # (env steps, mean greedy return) per evaluation
    final: float | None  # the final evaluation's mean return (None: stopped at solve)
    final_min: float | None  # its worst episode
    first_solve: int | None  # env steps of the first solving evaluation
    threshold: float | None
    train_s: float  # wall time in graph.run
    train_cpu_s: float  # CPU time of this process in graph.run
    env_steps: int

    @property
    def solved(self) -> bool:
        return self.final is not None and self.threshold is not None \
            and self.final >= self.threshold

    @property
    def stays_solved(self) -> bool:
        """The last three evaluations all reach the threshold."""
        last = [y for _, y in self.curve[-3:]]
        return self.threshold is not None and len(last) == 3 \
            and all(y >= self.threshold for y in last)

    @property
    def auc(self) -> float:
        """The average greedy return over the evaluation curve (trapezoids in env steps)."""
        xs, ys = zip(*self.curve)
        if len(xs) == 1:
            return ys[0]
        return float(np.trapezoid(ys, xs) / (xs[-1] - xs[0]))


def run_seed(path: str, seed: int, steps: int | None, eval_every: int | None,
             eval_episodes: int, final_episodes: int, threshold: float | None,
             q_ref: str | None, threads: int, overrides: list[str],
             stop_at_solve: bool) -> SeedResult:
    torch.set_num_threads(threads)
    checked = load(path, overrides=overrides)
    total = steps or checked.spec.steps
    graph = build(checked, seed=seed)
    every = eval_every or max(1, total // 20)
    evaluation = RunEvaluation(graph, every, eval_episodes, final_episodes, q=q_ref)
    if threshold is None:
        threshold = evaluation.reward_threshold
    train_s = train_cpu_s = 0.0
    first_solve = None
    with graph:
        while graph.tick < total:
            ticks = min(total - graph.tick, evaluation.ticks_to_next(graph.tick) or total)
            start, start_cpu = time.perf_counter(), time.process_time()
            graph.run(ticks)
            train_s += time.perf_counter() - start
            train_cpu_s += time.process_time() - start_cpu
            if graph.tick < total and evaluation.due(graph.tick):
                evaluation.evaluate(graph)
                row = evaluation.rows[-1]
                if first_solve is None and threshold is not None \
                        and row["return_mean"] >= threshold:
                    first_solve = row["env_steps"]
                    if stop_at_solve:
                        break
        final = final_min = None
        if graph.tick >= total:
            evaluation.finish(graph)
            row = evaluation.rows[-1]
            final, final_min = row["return_mean"], row["return_min"]
            if first_solve is None and threshold is not None and final >= threshold:
                first_solve = row["env_steps"]
        env_steps = evaluation.rows[-1]["env_steps"]
    curve = [(r["env_steps"], r["return_mean"]) for r in evaluation.rows]
    return SeedResult(str(path), seed, curve, final, final_min, first_solve, threshold,
                      train_s, train_cpu_s, env_steps)


def iqm(values: np.ndarray) -> np.ndarray:
    """Interquartile mean along the last axis: the mean after cutting int(n / 4) values
    from each end (scipy.stats.trim_mean(x, 0.25), which rliable uses)."""
    n = values.shape[-1]
    cut = int(0.25 * n)
    return np.sort(values, axis=-1)[..., cut:n - cut].mean(axis=-1)


def iqm_ci(values: list[float], reps: int = BOOTSTRAP_REPS, seed: int = 0
           ) -> tuple[float, float, float]:
    """IQM over seeds and its 95% percentile-bootstrap interval (seeds resampled with
    replacement)."""
    x = np.asarray(values, dtype=float)
    samples = np.random.default_rng(seed).choice(x, size=(reps, len(x)), replace=True)
    low, high = np.percentile(iqm(samples), [2.5, 97.5])
    return float(iqm(x)), float(low), float(high)


def _k(steps: int | None) -> str:
    return "—" if steps is None else f"{steps / 1000:.1f}k"


def seed_table(results: list[SeedResult]) -> str:
    lines = ["| seed | final greedy return (worst episode) | last 3 evaluations | best "
             "| AUC | first solve | train wall s | train CPU s |",
             "|---:|---:|---|---:|---:|---:|---:|---:|"]
    for r in results:
        final = "stopped at solve" if r.final is None else f"{r.final:.1f} ({r.final_min:g})"
        last3 = ", ".join(f"{y:.0f}" for _, y in r.curve[-3:])
        best = max(y for _, y in r.curve)
        lines.append(f"| {r.seed} | {final} | {last3} | {best:.1f} | {r.auc:.1f} "
                     f"| {_k(r.first_solve)} | {r.train_s:.1f} | {r.train_cpu_s:.1f} |")
    return "\n".join(lines)


def summary(results: list[SeedResult]) -> dict[str, float | int | None]:
    finals = [r.final for r in results if r.final is not None]
    solves = [r.first_solve for r in results if r.first_solve is not None]
    out: dict[str, float | int | None] = {
        "seeds": len(results), "solved": sum(r.solved for r in results),
        "stays_solved": sum(r.stays_solved for r in results),
        "auc_mean": statistics.fmean(r.auc for r in results),
        "first_solve_median": statistics.median(solves) if solves else None,
        "first_solved_seeds": len(solves),
        "train_s_median": statistics.median(r.train_s for r in results),
        "train_cpu_s_median": statistics.median(r.train_cpu_s for r in results)}
    if finals:
        out["final_mean"] = statistics.fmean(finals)
        out["final_min"] = min(finals)
        out["iqm"], out["iqm_low"], out["iqm_high"] = iqm_ci(finals)
    return out


def summary_line(s: dict) -> str:
    n = s["seeds"]
    parts = []
    if "final_mean" in s:
        parts.append(f"final greedy return mean {s['final_mean']:.1f}, min {s['final_min']:.1f}"
                     f"; IQM {s['iqm']:.1f} [95% CI {s['iqm_low']:.1f}, {s['iqm_high']:.1f}]"
                     f"; solved {s['solved']}/{n}, stays solved {s['stays_solved']}/{n}")
    first = (f"first solve median {_k(s['first_solve_median'])} "
             f"({s['first_solved_seeds']}/{n} seeds)")
    parts += [f"AUC {s['auc_mean']:.1f}", first,
              f"median train wall time {s['train_s_median']:.1f} s "
              f"(CPU {s['train_cpu_s_median']:.1f} s)"]
    return "; ".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("graphs", nargs="+", metavar="GRAPH",
                        help="graph files, e.g. graphs/dqn_target.yaml")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--steps", "--max-steps", type=int, dest="steps",
                        help="ticks per seed (default: each graph's own steps)")
    parser.add_argument("--eval-every", type=int, help="ticks between evaluations "
                        "(default: a twentieth of the run, as rlgraph run)")
    parser.add_argument("--eval-episodes", type=int, default=10)
    parser.add_argument("--final-episodes", type=int, default=20)
    parser.add_argument("--threshold", type=float,
                        help="solved at this mean return (default: the env's "
                             "spec.reward_threshold)")
    parser.add_argument("--q", help="act greedily with this Q-network (node.port) "
                        "instead of the graph's policy")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per seed")
    parser.add_argument("--jobs", type=int, default=1, help="seeds run in parallel")
    parser.add_argument("--stop-at-solve", action="store_true",
                        help="stop each seed at its first solving evaluation")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="override a param or trigger, as in "
                        "`rlgraph run --set` (applies to every graph)")
    parser.add_argument("--json", metavar="FILE", help="also write every result as JSON")
    args = parser.parse_args(argv)
    for graph in args.graphs:
        if not Path(graph).exists():
            print(f"no such graph file: {graph}", file=sys.stderr)
            return 2
    jobs = [(g, seed, args.steps, args.eval_every, args.eval_episodes, args.final_episodes,
             args.threshold, args.q, args.threads, args.overrides, args.stop_at_solve)
            for g in args.graphs for seed in args.seeds]
    results: list[SeedResult] = []
    with ProcessPoolExecutor(max(1, args.jobs)) as pool:
        futures = [pool.submit(run_seed, *job) for job in jobs]
        for future in as_completed(futures):
            r = future.result()
            results.append(r)
            final = "—" if r.final is None else f"{r.final:.1f}"
            print(f"{r.graph} seed {r.seed}: final {final}, last 3 "
                  f"{[round(y) for _, y in r.curve[-3:]]}, first solve "
                  f"{_k(r.first_solve)}, {r.train_s:.1f} s", file=sys.stderr, flush=True)
    sets = "".join(f" --set {o}" for o in args.overrides)
    report = {}
    for graph in args.graphs:
        mine = sorted((r for r in results if r.graph == graph), key=lambda r: r.seed)
        s = summary(mine)
        report[graph] = {"summary": s, "seeds": [
            {**asdict(r), "solved": r.solved, "stays_solved": r.stays_solved,
             "auc": r.auc} for r in mine]}
        print(f"**{graph}{sets}** (threshold {mine[0].threshold})\n")
        print(seed_table(mine) + "\n")
        print(summary_line(s) + "\n")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    return 0 if all(r.solved for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
