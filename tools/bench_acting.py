"""Acting throughput: GymEnv + Greedy as a graph vs the raw gymnasium vector env.

    python tools/bench_acting.py [--num-envs 16 1] [--ticks 4000] [--repeats 5]
                                 [--baseline DIR] [--profile]

The graph is `GymEnv(CartPole-v1, num_envs) -> Greedy(MLP [64, 64])`, the action fed
back over a delayed edge: every tick steps every env with the network's greedy action
and builds the transitions. The raw loop is
`gymnasium.make_vec("CartPole-v1", num_envs, vectorization_mode="sync")` stepping
random actions (`action_space.sample()`), with no network and no tensors. We report
env steps per second for both and their ratio (goal: the graph keeps >= 50% of raw).

Every measurement runs in its own fresh process, alternating raw, graph (and the
baseline graph), so that none inherits another's warm caches or allocator; the
figures are medians over `--repeats` alternations. `--baseline DIR` also runs the graph
with the rlgraph package found in DIR (e.g. an export of an older commit:
`git archive <rev> | tar -x -C DIR`), for before/after figures side by side.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import platform
import pstats
import statistics
import subprocess
import sys
import time

from machine import cpu_model  # tools/, beside this script

GRAPH = """\
name: acting
nodes:
  env:
    type: GymEnv
    params: {{id: CartPole-v1, num_envs: {num_envs}}}
    in: {{action: {{from: policy.action, delay: 1}}}}
  qnet:
    type: MLP
    params: {{hidden: [64, 64]}}
    in: {{spec: env.spec}}
  policy:
    type: Greedy
    in: {{obs: env.obs, q: qnet.module}}
"""


def measure_graph(num_envs: int, ticks: int, profile: bool = False) -> float:
    """Env steps per second of the acting graph."""
    import torch

    from rlgraph.core import REGISTRY, build, check_graph, parse_graph
    torch.set_num_threads(1)
    spec, errors = parse_graph(GRAPH.format(num_envs=num_envs), "acting.yaml")
    assert spec is not None and not errors, errors
    checked = check_graph(spec, REGISTRY)
    assert not checked.errors, checked.errors
    graph = build(checked, seed=0)
    graph.run(200)  # warm up
    prof = cProfile.Profile() if profile else None
    if prof:
        prof.enable()
    start = time.perf_counter()
    graph.run(ticks)
    elapsed = time.perf_counter() - start
    if prof:
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(20)
    graph.close()
    return num_envs * ticks / elapsed


def measure_raw(num_envs: int, ticks: int) -> float:
    """Env steps per second of the bare gymnasium vector env with random actions."""
    import gymnasium as gym
    envs = gym.make_vec("CartPole-v1", num_envs=num_envs, vectorization_mode="sync")
    envs.reset(seed=0)
    envs.action_space.seed(0)
    for _ in range(200):  # warm up
        envs.step(envs.action_space.sample())
    start = time.perf_counter()
    for _ in range(ticks):
        envs.step(envs.action_space.sample())
    elapsed = time.perf_counter() - start
    envs.close()
    return num_envs * ticks / elapsed


def in_subprocess(kind: str, num_envs: int, ticks: int, package_dir: str | None) -> float:
    env = dict(os.environ)
    if package_dir:
        env["PYTHONPATH"] = os.pathsep.join([package_dir, env.get("PYTHONPATH", "")])
    out = subprocess.run([sys.executable, __file__, "--one", kind, "--num-envs",
                          str(num_envs), "--ticks", str(ticks)], env=env, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])["steps_per_s"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-envs", type=int, nargs="+", default=[16, 1])
    parser.add_argument("--ticks", type=int, default=4000, help="ticks per measurement")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--baseline", metavar="DIR", help="rlgraph to compare with")
    parser.add_argument("--profile", action="store_true", help="profile the graph once")
    parser.add_argument("--one", choices=("graph", "raw"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        n = args.num_envs[0]
        rate = measure_graph(n, args.ticks) if args.one == "graph" else measure_raw(n, args.ticks)
        print(json.dumps({"steps_per_s": rate}))
        return
    if args.profile:
        for n in args.num_envs:
            print(f"num_envs={n}: {measure_graph(n, args.ticks, profile=True):,.0f} steps/s")
        return
    print(f"{cpu_model()}, 1 torch thread, Python {platform.python_version()}; "
          f"{args.ticks} ticks per measurement, median of {args.repeats} alternated "
          f"fresh processes\n")
    header = "| num_envs | raw gymnasium steps/s | graph steps/s | graph / raw |"
    rule = "|---|---|---|---|"
    if args.baseline:
        header += " baseline graph steps/s | baseline / raw |"
        rule += "---|---|"
    print(header)
    print(rule)
    for n in args.num_envs:
        raw, graph, base = [], [], []
        for _ in range(args.repeats):
            raw.append(in_subprocess("raw", n, args.ticks, None))
            graph.append(in_subprocess("graph", n, args.ticks, None))
            if args.baseline:
                base.append(in_subprocess("graph", n, args.ticks, args.baseline))
        ratio = statistics.median([g / r for g, r in zip(graph, raw)])
        row = (f"| {n} | {statistics.median(raw):,.0f} | {statistics.median(graph):,.0f} | "
               f"{ratio:.0%} |")
        if args.baseline:
            b_ratio = statistics.median([b / r for b, r in zip(base, raw)])
            row += f" {statistics.median(base):,.0f} | {b_ratio:.0%} |"
        print(row, flush=True)


if __name__ == "__main__":
    main()
