"""Placed runs on Ray: collection and training throughput with 1, 2 and 4 workers.

    python tools/bench_placement.py [--workers 1 2 4] [--repeats 3] [--seconds 8]
                                    [--scenarios collect slow train] [--fragment 128]

Scenarios (each beside the same graph run in one process):
- collect: CartPole-v1, acting only. The workers run the env and an epsilon-greedy MLP
  [256, 256] policy; the learner stores every transition in a replay buffer and counts
  episodes; nothing trains.
- slow: the same with SlowCartPole-v1, a STAND-IN for a slow simulator: CartPole whose
  every step first waits about 1 ms (time.sleep, tools/placement_standins.py). The wait
  costs no CPU: this measures how workers overlap waiting, not physics on more cores.
- train: graphs/dqn_target.yaml itself (128 gradient steps every 256 ticks, once 1000
  transitions are stored): the update-to-data ratio of the single-process graph.

Each figure is env steps per second learned from, over a window of `--seconds` after a
warm-up (Ray's start and the workers' imports excluded; training has started), with the
policy lag (weights versions behind, mean over the window's fragments), the learner's
busy share (time in its own ticks / wall time) and the machine's 1-minute load average
over the window (the machine may be shared), and the cores the run's own processes
(learner and workers) used over the window: on a machine shared with other work, what
they got of it. Each repeat of a scenario runs in a fresh
process (the single-process figure first, then one Ray cluster for the worker counts);
the figures are medians over repeats.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from machine import cpu_model  # tools/, beside this script

ROOT = Path(__file__).resolve().parents[1]
TOOLS = Path(__file__).resolve().parent

COLLECT = """\
name: collect
seed: 1
steps: 1000000
placement: {{workers: 0, actors: [env, policy], fragment: {fragment}, mode: async}}
nodes:
  env:
    type: GymEnv
    params: {{id: "{env}", num_envs: 1}}
    in: {{action: {{from: policy.action, delay: 1}}}}
  qnet:
    type: MLP
    params: {{hidden: [256, 256]}}
    in: {{spec: env.spec}}
  policy:
    type: EpsilonGreedy
    params: {{start: 1.0, end: 0.05, decay_steps: 10000}}
    in: {{obs: env.obs, q: qnet.module}}
  replay:
    type: ReplayBuffer
    params: {{capacity: 100000}}
    in: {{transition: env.transition}}
  metrics:
    type: Metrics
    in: {{episode: env.episode_end}}
"""
SCENARIOS = {
    "collect": ("CartPole-v1, acting only", "CartPole-v1", 3000),
    "slow": ("SlowCartPole-v1 (STAND-IN: CartPole + ~1 ms wait per step), acting only",
             "placement_standins:SlowCartPole-v1", 300),
    "train": ("graphs/dqn_target.yaml, training (128 steps / 256 ticks)", None, 2000),
}


def graph_file(scenario: str, fragment: int, folder: Path) -> tuple[Path, list[str]]:
    _, env, _ = SCENARIOS[scenario]
    if env is None:
        return ROOT / "graphs" / "dqn_target.yaml", [f"placement.fragment={fragment}"]
    path = folder / f"{scenario}.yaml"
    path.write_text(COLLECT.format(env=env, fragment=fragment), encoding="utf-8")
    return path, []


def measure(path: Path, overrides: list[str], workers: int, warm: int,
            seconds: float) -> dict[str, float]:
    """Env steps/s learned from over `seconds`, after `warm` ticks."""
    import torch

    from rlgraph.core import build, load
    from rlgraph.placement import placed
    from rlgraph.placement.learner import PlacedGraph
    from rlgraph.workflow.writers import env_steps
    torch.set_num_threads(1)
    checked = load(path, overrides=[*overrides, f"placement.workers={workers}"])
    graph = placed(build(checked), 10**9, threads=1)
    with graph:
        graph.run(warm)
        pids = [os.getpid(), *(graph.worker_pids() if isinstance(graph, PlacedGraph) else [])]
        chunk = 64
        cpu0 = sum(cpu_seconds(p) for p in pids)
        load0, steps0, started = os.getloadavg()[0], env_steps(graph), time.perf_counter()
        busy0 = graph.learner_s if isinstance(graph, PlacedGraph) else 0.0
        while time.perf_counter() - started < seconds:
            graph.run(chunk)
        wall = time.perf_counter() - started
        steps = env_steps(graph) - steps0
        cores = (sum(cpu_seconds(p) for p in pids) - cpu0) / wall
        report = graph.report()
        busy = (graph.learner_s - busy0) / wall if isinstance(graph, PlacedGraph) else 1.0
        return {"steps_per_s": steps / wall, "load": (load0 + os.getloadavg()[0]) / 2,
                "lag": report.get("placement/policy_lag", 0.0), "busy": busy,
                "cores": cores}


def cpu_seconds(pid: int) -> float:
    """CPU time a process has used so far (user + system), from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def one_repeat(scenario: str, worker_counts: list[int], fragment: int,
               seconds: float) -> dict[str, dict[str, float]]:
    """Every figure of one repeat of a scenario, in this process."""
    import tempfile
    folder = Path(tempfile.mkdtemp(prefix="bench_placement_"))
    path, overrides = graph_file(scenario, fragment, folder)
    warm = SCENARIOS[scenario][2]
    out = {"0": measure(path, overrides, 0, warm, seconds)}  # one process, no Ray yet
    from rlgraph.placement.cluster import start_ray, stop_ray
    start_ray()
    try:
        for workers in worker_counts:
            out[str(workers)] = measure(path, overrides, workers, warm, seconds)
    finally:
        stop_ray()
    return out


def run_child(scenario: str, worker_counts: list[int], fragment: int,
              seconds: float) -> dict[str, dict[str, float]]:
    env = dict(os.environ)
    # the workers import rlgraph and the stand-in env as this process does
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), str(TOOLS),
                                                    env.get("PYTHONPATH")) if p)
    cmd = [sys.executable, __file__, "--child", scenario, "--seconds", str(seconds),
           "--fragment", str(fragment), "--workers", *map(str, worker_counts)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{scenario} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def report(scenario: str, runs: list[dict[str, dict[str, float]]],
           worker_counts: list[int]) -> list[str]:
    title = SCENARIOS[scenario][0]
    lines = [f"\n{title}", f"  {'':<16}{'env steps/s':>12}{'x 1 worker':>12}"
             f"{'x 1 process':>13}{'policy lag':>12}{'learner busy':>14}{'cores':>7}"
             f"{'load':>7}"]
    med = {k: {m: statistics.median(r[k][m] for r in runs) for m in runs[0][k]}
           for k in runs[0]}
    single = med["0"]["steps_per_s"]
    one = med.get("1", med["0"])["steps_per_s"]
    for key in ["0", *map(str, worker_counts)]:
        m = med[key]
        label = "one process" if key == "0" else f"{key} worker{'s' if key != '1' else ''}"
        ratio = "" if key == "0" else f"{m['steps_per_s'] / one:.2f}"
        lag = "" if key == "0" else f"{m['lag']:.2f}"
        busy = "" if key == "0" else f"{m['busy']:.0%}"
        lines.append(f"  {label:<16}{m['steps_per_s']:>12,.0f}{ratio:>12}"
                     f"{m['steps_per_s'] / single:>13.2f}{lag:>12}{busy:>14}"
                     f"{m['cores']:>7.2f}{m['load']:>7.1f}")
    if scenario == "collect" and "2" in med and "1" in med:
        got = med["2"]["steps_per_s"] / one
        lines.append(f"  goal: 2 workers >= 1.7x one worker: {got:.2f}x "
                     f"{'met' if got >= 1.7 else 'NOT met'}")
    if scenario == "slow":
        for key in map(str, worker_counts):
            got = med[key]["steps_per_s"] / (one * int(key))
            lines.append(f"  goal: {key} workers >= 0.8 of linear: {got:.2f} "
                         f"{'met' if got >= 0.8 else 'NOT met'}")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=8.0, help="measured window")
    parser.add_argument("--fragment", type=int, default=128, help="ticks per fragment")
    parser.add_argument("--scenarios", nargs="+", choices=list(SCENARIOS),
                        default=list(SCENARIOS))
    parser.add_argument("--child", choices=list(SCENARIOS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        sys.path.insert(0, str(TOOLS))
        result = one_repeat(args.child, args.workers, args.fragment, args.seconds)
        print(json.dumps(result))
        return 0
    print(f"machine: {cpu_model()}, {os.cpu_count()} cores; medians of {args.repeats} "
          f"repeats, {args.seconds:g} s windows, fragments of {args.fragment} ticks, async; "
          f"one torch thread per process; load = 1-minute load average")
    for scenario in args.scenarios:
        runs = []
        for _ in range(args.repeats):
            runs.append(run_child(scenario, args.workers, args.fragment, args.seconds))
        print("\n".join(report(scenario, runs, args.workers)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
