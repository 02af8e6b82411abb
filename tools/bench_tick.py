"""Where an env step of graphs/dqn_notebook.yaml goes: its four acting nodes, each timed.

    python tools/bench_tick.py [--ticks 60000] [--repeats 3]

Builds the graph with learning switched off (the sampler's min_size out of reach), runs
it for a few ticks, then calls the acting nodes' `step` methods in a plain loop, in the
graph's order (env, policy, scale, replay), and times each call. The sum is what the
nodes cost per env step without the engine; `graph.run` of the same graph is timed
after it for the engine's share. Prints the median over `--repeats` loops.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from statistics import median

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import cpu_model

from rlgraph.core import build, load

GRAPH = Path(__file__).resolve().parent.parent / "graphs" / "dqn_notebook.yaml"
NO_LEARNING = ["sample.min_size=1000000000"]
NODES = ("env", "policy", "scale", "replay")


def node_loop(ticks: int) -> dict[str, float]:
    """Microseconds per tick of each acting node, called directly."""
    graph = build(load(GRAPH, overrides=NO_LEARNING), seed=1)
    graph.run(2)  # reset, then one step: the policy has acted
    env, policy, scale, replay = (graph.nodes[n] for n in NODES)
    action = graph.value("policy.action")
    clock = time.perf_counter
    spent = [0.0] * 4
    for _ in range(ticks):
        t0 = clock()
        out = env.step(action)
        t1 = clock()
        acted = policy.step(out["obs"], out.get("episode_end"))
        t2 = clock()
        scaled = scale.step(out["transition"])["transition"]
        t3 = clock()
        replay.step(scaled)
        t4 = clock()
        action = acted["action"]
        for i, (a, b) in enumerate(((t0, t1), (t1, t2), (t2, t3), (t3, t4))):
            spent[i] += b - a
    graph.close()
    return {name: s / ticks * 1e6 for name, s in zip(NODES, spent)}


def graph_loop(ticks: int) -> float:
    """Microseconds per tick of graph.run on the same graph."""
    graph = build(load(GRAPH, overrides=NO_LEARNING), seed=1)
    start = time.perf_counter()
    graph.run(ticks)
    per_tick = (time.perf_counter() - start) / ticks * 1e6
    graph.close()
    return per_tick


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=60_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    loops, runs = [], []
    for _ in range(args.repeats):
        loops.append(node_loop(args.ticks))
        runs.append(graph_loop(args.ticks))
    nodes = {name: median(loop[name] for loop in loops) for name in NODES}
    direct = median(sum(loop.values()) for loop in loops)
    print(f"{cpu_model()}, 1 torch thread; {args.ticks} ticks, one env, learning off, "
          f"median of {args.repeats}\n")
    print("| " + " | ".join(NODES) + " | nodes in a plain loop | graph.run | engine |")
    print("|" + "---|" * (len(NODES) + 3))
    print("| " + " | ".join(f"{nodes[n]:.1f} us" for n in NODES)
          + f" | {direct:.1f} us | {median(runs):.1f} us | {median(runs) - direct:.1f} us |")


if __name__ == "__main__":
    main()
