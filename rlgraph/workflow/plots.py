"""Learning curves of finished runs: mean ± std of return vs env steps, one band per graph.

Each run's curve is read from its run folder: training returns from metrics.csv (each
point the mean of the last `smooth` episodes, like SB3's Monitor), or greedy evaluation
returns from eval.csv (`y="eval"`). Curves are resampled on a common grid of env steps
(the latest value at or before each grid point, up to the run's last env step and not
beyond: a shorter run's band ends where the run did), grouped by graph, and drawn as the
mean with a band of one standard deviation over the runs. The numbers behind the
picture go to a CSV next to it.
"""

from __future__ import annotations

import csv
import json
import math
import statistics
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from ..core import GraphError, GraphErrors, Loc
from .writers import read_rows

GRID_POINTS = 200


@dataclass
class Curve:
    """One run's learning curve."""

    graph: str
    run_dir: Path
    x: list[float]  # env steps, increasing
    y: list[float]
    end: float | None = None  # the run's last env step (default: the last x)

    @property
    def last(self) -> float:
        return self.end if self.end is not None else (self.x[-1] if self.x else 0.0)


def check_picture(out: str | Path) -> Path:
    """`out` as a picture path whose format matplotlib writes; a located error otherwise
    (checked before any work, so that `rlgraph compare` never trains for nothing)."""
    from matplotlib.backend_bases import FigureCanvasBase
    out = Path(out)
    formats = FigureCanvasBase.get_supported_filetypes()
    if out.suffix[1:].lower() not in formats:
        raise GraphErrors([GraphError(
            f"cannot draw a picture to '{out.name}': "
            + (f"unknown format '{out.suffix}'" if out.suffix else "the name has no extension"),
            Loc(str(out)), hint="end the name with one of: "
            + ", ".join(f".{f}" for f in sorted(formats)))])
    return out


def read_curve(run_dir: Path, y: str = "return", smooth: int = 10) -> Curve:
    """A run folder's curve; a clear error for a folder without the CSV it needs."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise GraphErrors([GraphError("no such run folder", Loc(str(run_dir)))])
    file = run_dir / ("eval.csv" if y == "eval" else "metrics.csv")
    if not file.is_file():
        hint = ("`rlgraph run` writes eval.csv unless its evaluations were turned off "
                "(--eval-every 0 --final-episodes 0) or the graph's policy cannot act "
                "in evaluation" if y == "eval"
                else "plot folders that `rlgraph run` wrote")
        if y != "eval" and (run_dir / "graph.yaml").is_file():
            hint = ("the run's graph has no Metrics node, which keeps the episode rows: "
                    "add  metrics: {type: Metrics, in: {episode: env.episode_end}}")
        raise GraphErrors([GraphError(f"no {file.name} in this folder", Loc(str(run_dir)),
                                      hint=hint)])
    rows = read_rows(file)
    xs = [r["env_steps"] for r in rows]
    if y == "eval":
        ys = [r["return_mean"] for r in rows]
    else:
        window: deque[float] = deque(maxlen=max(1, smooth))
        ys = []
        for r in rows:
            window.append(r["return"])
            ys.append(sum(window) / len(window))
    summary = _summary(run_dir)
    end = summary.get("env_steps")
    return Curve(summary.get("graph", run_dir.name), run_dir, xs, ys,
                 float(end) if isinstance(end, (int, float)) else None)


def _summary(run_dir: Path) -> dict:
    try:
        summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return summary if isinstance(summary, dict) else {}


def resample(curve: Curve, grid: list[float]) -> list[float]:
    """The curve's latest value at or before each grid point: NaN before its first
    point and after the run's end (a finished run is not drawn on as a flat line)."""
    out, i, last = [], 0, math.nan
    for g in grid:
        while i < len(curve.x) and curve.x[i] <= g:
            last = curve.y[i]
            i += 1
        out.append(last if g <= curve.last else math.nan)
    return out


def bands(groups: dict[str, list[Curve]], points: int = GRID_POINTS
          ) -> tuple[list[float], dict[str, list[tuple[float, float, int]]]]:
    """The common grid and, per group, (mean, std, runs) at each grid point."""
    end = max((c.last for cs in groups.values() for c in cs if c.x), default=0.0)
    grid = [end * i / (points - 1) for i in range(points)] if end > 0 else [0.0]
    out: dict[str, list[tuple[float, float, int]]] = {}
    for label, curves in groups.items():
        columns = list(zip(*(resample(c, grid) for c in curves)))
        stats = []
        for column in columns:
            values = [v for v in column if not math.isnan(v)]
            if values:
                std = statistics.pstdev(values) if len(values) > 1 else 0.0
                stats.append((statistics.fmean(values), std, len(values)))
            else:
                stats.append((math.nan, math.nan, 0))
        out[label] = stats
    return grid, out


def group_by_graph(curves: list[Curve]) -> dict[str, list[Curve]]:
    groups: dict[str, list[Curve]] = {}
    for curve in curves:
        groups.setdefault(curve.graph, []).append(curve)
    return groups


def y_label(y: str, smooth: int) -> str:
    """What a curve's points are, in words (the plot's axis and compare's lines)."""
    return "greedy evaluation return" if y == "eval" else \
        f"episode return, mean of the last {smooth} episodes"


def plot(groups: dict[str, list[Curve]], out: Path, y: str = "return",
         title: str | None = None, smooth: int = 10) -> Path:
    """Draw the bands to `out` (PNG, SVG or PDF) and write `<out stem>.csv` beside it;
    returns the CSV path."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grid, stats = bands(groups)
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=120)
    for label, rows in stats.items():
        mean = [m for m, _, _ in rows]
        low = [m - s for m, s, _ in rows]
        high = [m + s for m, s, _ in rows]
        n = len(groups[label])
        line, = ax.plot(grid, mean, label=f"{label} ({n} run{'s' if n != 1 else ''})")
        ax.fill_between(grid, low, high, color=line.get_color(), alpha=0.2, linewidth=0)
    ax.set_xlabel("env steps")
    ax.set_ylabel(y_label(y, smooth))
    ax.set_title(title or "mean ± std over runs")
    ax.grid(alpha=0.3)
    ax.legend(loc="best")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    table = out.with_suffix(".csv")
    with open(table, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["graph", "env_steps", "mean", "std", "runs"])
        for label, rows in stats.items():
            for x, (m, s, k) in zip(grid, rows):
                if k:
                    writer.writerow([label, round(x, 1), round(m, 4), round(s, 4), k])
    return table


def plot_runs(run_dirs: list[str | Path], out: str | Path, y: str = "return",
              smooth: int = 10, title: str | None = None) -> int:
    """`rlgraph plot`: bands of finished runs, grouped by graph name."""
    out = check_picture(out)
    curves = [read_curve(Path(d), y, smooth) for d in run_dirs]
    table = plot(group_by_graph(curves), out, y, title, smooth)
    print(f"wrote {out} and {table} ({len(curves)} runs)")
    return 0
