"""`rlgraph run`: build a graph, run it with progress, print a summary."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path

from .core import REGISTRY, Graph, GraphError, GraphErrors, Loc, build, load


def collect_report(graph: Graph) -> dict[str, float]:
    """Every node's report, keyed `node/metric`."""
    return {f"{name}/{key}": value for name, node in graph.nodes.items()
            for key, value in node.report().items()}


def _format_report(report: dict[str, float]) -> str:
    return "  ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                     for k, v in report.items())


class Progress:
    """A live bar on a terminal, plain periodic lines otherwise."""

    def __init__(self, total: int, quiet: bool) -> None:
        self.total, self.quiet = total, quiet
        self.start = time.perf_counter()
        self.bar = None
        if not quiet and sys.stdout.isatty():
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress as Bar,
                                       TextColumn, TimeRemainingColumn)
            self.bar = Bar(TextColumn("ticks"), BarColumn(), MofNCompleteColumn(),
                           TextColumn("{task.fields[rate]}"), TimeRemainingColumn(),
                           TextColumn("{task.fields[info]}"))
            self.task = self.bar.add_task("run", total=total, rate="", info="")
            self.bar.start()
        self.last_line = self.start

    def __call__(self, graph: Graph, done: int) -> None:
        if self.quiet:
            return
        elapsed = time.perf_counter() - self.start
        rate = f"{done / elapsed:,.0f} ticks/s" if elapsed > 0 else ""
        info = _format_report(collect_report(graph))
        if self.bar is not None:
            self.bar.update(self.task, completed=done, rate=rate, info=info)
        elif time.perf_counter() - self.last_line >= 5.0 or done == self.total:
            self.last_line = time.perf_counter()
            print(f"[{done}/{self.total}] {rate}  {info}", flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def run_graph(path: str | Path, steps: int | None = None, seed: int | None = None,
              quiet: bool = False, overrides: Sequence[str] = ()) -> int:
    checked = load(path, REGISTRY, overrides)
    for warning in checked.warnings:
        print(warning.format(), file=sys.stderr)
    ticks = steps if steps is not None else checked.spec.steps
    if ticks is None or ticks < 1:
        raise GraphErrors([GraphError(
            "nothing to run: the graph has no 'steps' and --steps was not given",
            Loc(str(path), 1, 1), hint="add 'steps: N' at the top level or pass --steps N")])
    graph = build(checked, seed=seed)
    progress = Progress(ticks, quiet)
    start_tick = graph.tick
    start = time.perf_counter()
    with graph:
        try:
            graph.run(ticks, callback=lambda g: progress(g, g.tick - start_tick),
                      chunk=max(1, min(1000, ticks // 100 or 1)))
        finally:
            progress.close()
        elapsed = time.perf_counter() - start
        print(f"{graph.spec.name}: {graph.tick} ticks in {elapsed:.2f} s "
              f"({graph.tick / max(elapsed, 1e-9):,.0f} ticks/s), seed {graph.spec.seed}")
        report = collect_report(graph)
        for key, value in report.items():
            print(f"  {key:<32} {value:.6g}" if isinstance(value, float)
                  else f"  {key:<32} {value}")
    return 0
