"""`rlgraph run`: build a graph, run it with progress, leave its results in a run folder.

A run folder (`runs/<graph>-<timestamp>/`, or `--out DIR`) holds:
- graph.yaml    the graph exactly as it ran (overrides applied, derived seeds noted);
                `rlgraph run` on it repeats the run
- graph.png     the wiring diagram (graph.dot when graphviz's `dot` is missing)
- summary.json  ticks, wall time, seeds, and every node's final report
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from .core import REGISTRY, CheckedGraph, Graph, GraphError, GraphErrors, Loc, build, load
from .core.dump import dump_spec


def collect_report(graph: Graph) -> dict[str, Any]:
    """Every node's report, keyed `node/metric`."""
    return {f"{name}/{key}": value for name, node in graph.nodes.items()
            for key, value in node.report().items()}


def _format_report(report: dict[str, Any]) -> str:
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


def make_run_dir(name: str, out: str | Path | None) -> Path:
    """A new, empty run folder; an existing non-empty one is never overwritten."""
    path = Path(out) if out else Path("runs") / f"{name}-{datetime.now():%Y%m%d-%H%M%S}"
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise GraphErrors([GraphError(
            f"run folder {path} already exists and is not empty", Loc(str(path)),
            hint="choose another --out, or move the old run away")])
    path.mkdir(parents=True, exist_ok=True)
    return path


def draw(checked: CheckedGraph, run_dir: Path) -> None:
    """graph.png in the run folder; a missing graphviz costs the picture, not the run."""
    try:
        from .render import RenderError, render_checked
    except ImportError:  # rendering is optional for running
        return
    try:
        render_checked(checked, run_dir / "graph.png")
    except RenderError as exc:
        print(f"note: {exc}", file=sys.stderr)


def run_graph(path: str | Path, steps: int | None = None, seed: int | None = None,
              quiet: bool = False, overrides: Sequence[str] = (),
              out: str | Path | None = None) -> int:
    checked = load(path, REGISTRY, overrides)
    for warning in checked.warnings:
        print(warning.format(), file=sys.stderr)
    if steps is not None:
        checked.spec.steps = steps
    ticks = checked.spec.steps
    if ticks is None or ticks < 1:
        raise GraphErrors([GraphError(
            "nothing to run: the graph has no 'steps' and --steps was not given",
            Loc(str(path), 1, 1), hint="add 'steps: N' at the top level or pass --steps N")])
    run_dir = make_run_dir(checked.spec.name, out)
    graph = build(checked, seed=seed)
    (run_dir / "graph.yaml").write_text(dump_spec(checked.spec, graph.seeds), encoding="utf-8")
    draw(checked, run_dir)
    progress = Progress(ticks, quiet)
    start = time.perf_counter()
    interrupted = False
    with graph:
        try:
            graph.run(ticks, callback=lambda g: progress(g, g.tick),
                      chunk=max(1, min(1000, ticks // 100)))
        except KeyboardInterrupt:
            interrupted = True
        finally:
            progress.close()
        elapsed = time.perf_counter() - start
        report = collect_report(graph)
    summary = {"graph": checked.spec.name, "file": str(path), "seed": checked.spec.seed,
               "ticks": graph.tick, "interrupted": interrupted, "wall_s": round(elapsed, 3),
               "ticks_per_s": round(graph.tick / max(elapsed, 1e-9), 1),
               "report": report, "seeds": graph.seeds}
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2, default=float) + "\n",
                                          encoding="utf-8")
    print(f"{checked.spec.name}: {graph.tick} ticks in {elapsed:.2f} s "
          f"({summary['ticks_per_s']:,.0f} ticks/s), seed {checked.spec.seed}"
          + (" — interrupted" if interrupted else ""))
    for key, value in report.items():
        print(f"  {key:<32} {value:.6g}" if isinstance(value, float) else f"  {key:<32} {value}")
    print(f"results in {run_dir}/")
    return 130 if interrupted else 0
