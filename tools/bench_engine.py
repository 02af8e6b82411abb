"""Engine overhead per node fire, with trivial nodes.

A chain `src -> n1 -> ... -> nK` of nodes whose step does one addition runs for many
ticks. We report the time per node fire through the engine, the time of calling the
same step methods directly in a plain Python loop, and their difference (what the
engine adds per fire: trigger check, input gathering, output writing).

    python tools/bench_engine.py [--nodes 20] [--ticks 20000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

from rlgraph.core import In, Kind, Node, Out, Registry, build, check_graph, parse_graph


class Source(Node):
    """Emits 1.0 every tick."""

    outputs = {"x": Out(Kind.SCALAR, "one")}

    def step(self) -> dict[str, float]:
        return {"x": 1.0}


class Inc(Node):
    """Emits its input plus one."""

    inputs = {"x": In(Kind.SCALAR, "a number")}
    outputs = {"x": Out(Kind.SCALAR, "the number plus one")}

    def step(self, x: float) -> dict[str, float]:
        return {"x": x + 1.0}


def chain_yaml(n: int) -> str:
    lines = ["name: bench", "nodes:", "  n0: {type: Source}"]
    lines += [f"  n{i}: {{type: Inc, in: {{x: n{i - 1}.x}}}}" for i in range(1, n)]
    return "\n".join(lines) + "\n"


def bench_engine(n: int, ticks: int) -> float:
    registry = Registry(builtin_package=None, entry_point_group=None)
    registry.add(Source)
    registry.add(Inc)
    spec, errors = parse_graph(chain_yaml(n), "bench.yaml")
    assert spec is not None and not errors
    graph = build(check_graph(spec, registry))
    graph.run(100)  # warm up
    start = time.perf_counter()
    graph.run(ticks)
    elapsed = time.perf_counter() - start
    assert graph.value(f"n{n - 1}.x") == float(n)
    return elapsed / (ticks * n)


def bench_direct(n: int, ticks: int) -> float:
    src, incs = Source(), [Inc() for _ in range(n - 1)]
    start = time.perf_counter()
    for _ in range(ticks):
        x = src.step()["x"]
        for node in incs:
            x = node.step(x)["x"]
    elapsed = time.perf_counter() - start
    return elapsed / (ticks * n)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=20)
    parser.add_argument("--ticks", type=int, default=20000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    engine = [bench_engine(args.nodes, args.ticks) for _ in range(args.repeats)]
    direct = [bench_direct(args.nodes, args.ticks) for _ in range(args.repeats)]
    e, d = statistics.median(engine) * 1e6, statistics.median(direct) * 1e6
    print(f"machine: {platform.processor() or platform.machine()}, Python "
          f"{platform.python_version()}; chain of {args.nodes} trivial nodes, "
          f"{args.ticks} ticks, median of {args.repeats}")
    print(f"per node fire through the engine: {e:.2f} us")
    print(f"per step call in a plain loop:    {d:.2f} us")
    print(f"engine overhead per fire:         {e - d:.2f} us   (target <= 5 us)")


if __name__ == "__main__":
    main()
