"""`rlgraph run --profile`: where a graph spends its time, node by node.

Every firing node's `step` is wrapped in a timer (Graph.replace_step) for the session:
calls, total and mean time per call, and the share of the session's wall time. What no
node accounts for is the engine's tick loop, the logs and checkpoints between chunks.
A timer costs about 0.2 µs per call, which the numbers include.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ..core import Graph


class Profiler:
    """Times each node of `graph` from now until `finish()`, which restores the graph's
    own steps and returns the numbers."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.calls = dict.fromkeys(graph.tick_order, 0)
        self.ns = dict.fromkeys(graph.tick_order, 0)
        self.original: dict[str, Callable[..., Any]] = {}
        for name in graph.tick_order:
            step = graph.nodes[name].step
            self.original[name] = step
            graph.replace_step(name, self._timed(name, step))
        self.start = time.perf_counter_ns()

    def _timed(self, name: str, step: Callable[..., Any]) -> Callable[..., Any]:
        calls, ns, clock = self.calls, self.ns, time.perf_counter_ns

        def timed(**inputs: Any) -> Any:
            t = clock()
            try:
                return step(**inputs)
            finally:
                ns[name] += clock() - t
                calls[name] += 1
        return timed

    def finish(self) -> dict[str, Any]:
        """{wall_s, ticks, nodes: {name: {share, calls, mean_us, total_s}}, other_share},
        nodes by time spent, most first."""
        wall = max(time.perf_counter_ns() - self.start, 1)
        for name, step in self.original.items():
            self.graph.replace_step(name, step)
        nodes = {name: {"share": round(self.ns[name] / wall, 4), "calls": self.calls[name],
                        "mean_us": round(self.ns[name] / self.calls[name] / 1e3, 2)
                        if self.calls[name] else 0.0,
                        "total_s": round(self.ns[name] / 1e9, 4)}
                 for name in sorted(self.ns, key=self.ns.__getitem__, reverse=True)}
        return {"wall_s": round(wall / 1e9, 3), "nodes": nodes,
                "other_share": round(1 - sum(self.ns.values()) / wall, 4)}


def profile_table(profile: dict[str, Any]) -> str:
    """The profile as a person reads it: one line per node, most time first."""
    nodes = profile["nodes"]
    width = max([len(n) for n in nodes] + [len("(outside nodes)")])
    lines = [f"profile: {profile['wall_s']:.2f} s of wall time",
             f"  {'node':<{width}}  {'share':>6}  {'calls':>9}  {'µs/call':>9}"]
    for name, row in nodes.items():
        lines.append(f"  {name:<{width}}  {row['share']:>6.1%}  {row['calls']:>9,}  "
                     f"{row['mean_us']:>9,.1f}")
    lines.append(f"  {'(outside nodes)':<{width}}  {profile['other_share']:>6.1%}  "
                 "tick loop, logs, checkpoints, evaluations, progress")
    return "\n".join(lines)
