"""What a run writes as it goes: CSV rows and TensorBoard scalars, between chunks of ticks.

Every RowSource (rlgraph.core.protocols) is written: the run's own evaluations
(scoring.RunEvaluation) `eval.csv`, the Metrics node `metrics.csv` (one row per finished
episode), an EvalEpisodes node in the graph `eval-<node>.csv` (eval.csv is taken). A
second source with the same log_name writes `<log_name>-<node>.csv`. TensorBoard
(`tb/`) gets every row field against the row's env_steps (tag `<node>/<field>`) and
every node's report at each chunk boundary (tag `<node>/<metric>`) against the env steps
so far. Nothing here runs inside the tick loop: a crash loses at most the last chunk,
and a resumed run rewrites the CSV files from the checkpoint's rows, so they hold
exactly the rows of the run being continued.
"""

from __future__ import annotations

import csv
import math
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..core import CountsEnvSteps, Graph, RowSource

TB_FLUSH_S = 10.0


def row_sources(graph: Graph, first: Sequence[RowSource] = ()) -> dict[str, RowSource]:
    """CSV file name -> source, for `first` (the run's own: its evaluations), then every
    node that keeps rows."""
    sources: dict[str, RowSource] = {}
    for source in [*first, *(n for n in graph.nodes.values() if isinstance(n, RowSource))]:
        file = f"{source.log_name}.csv"
        if file in sources:
            file = f"{source.log_name}-{source.name}.csv"
        sources[file] = source
    return sources


def env_steps(graph: Graph) -> int:
    """Env steps so far: the sum over the nodes that count them (CountsEnvSteps), or the
    tick in a graph without one."""
    counts = [n.env_steps for n in graph.nodes.values() if isinstance(n, CountsEnvSteps)]
    return sum(counts) if counts else graph.tick


class RunLog:
    """Appends new rows to the run folder's CSV files and scalars to TensorBoard."""

    def __init__(self, run_dir: Path, graph: Graph, tensorboard: bool = True,
                 resumed: bool = False, first: Sequence[RowSource] = ()) -> None:
        self.run_dir = run_dir
        self.sources = row_sources(graph, first)
        self.written: dict[str, int] = {}
        for file, node in self.sources.items():
            path = run_dir / file
            if resumed or not path.exists():
                _rewrite(path, node.row_fields, node.rows)
            self.written[file] = len(node.rows)
        self.tb = _summary_writer(run_dir / "tb", env_steps(graph) if resumed else None) \
            if tensorboard else None
        self._flushed = time.perf_counter()

    def write(self, graph: Graph, report: dict[str, Any]) -> None:
        """New rows and the current report; called between chunks."""
        for file, node in self.sources.items():
            new = node.rows[self.written[file]:]
            if not new:
                continue
            with open(self.run_dir / file, "a", newline="", encoding="utf-8") as f:
                writer = csv.DictWriter(f, fieldnames=node.row_fields, extrasaction="ignore")
                writer.writerows(new)
            self.written[file] = len(node.rows)
            if self.tb is not None:
                for row in new:
                    for key in node.row_fields:
                        if key not in ("tick", "env_steps", "episode") and _number(row.get(key)):
                            self.tb.add_scalar(f"{node.name}/{key}", row[key], row["env_steps"])
        if self.tb is not None:
            x = env_steps(graph)
            for key, value in report.items():
                if _number(value):
                    self.tb.add_scalar(key, value, x)
            if time.perf_counter() - self._flushed > TB_FLUSH_S:
                self.flush()

    def flush(self) -> None:
        if self.tb is not None:
            self.tb.flush()
        self._flushed = time.perf_counter()

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) \
        and math.isfinite(value)


def _rewrite(path: Path, fields: tuple[str, ...], rows: list[dict[str, Any]]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _summary_writer(folder: Path, purge_step: int | None) -> Any:
    """A TensorBoard writer; on resume, events past the checkpoint are hidden
    (purge_step). Without the tensorboard package, a note and no events."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        print("note: tensorboard is not installed; no TensorBoard events "
              "(pip install tensorboard)", file=sys.stderr)
        return None
    return SummaryWriter(str(folder), purge_step=purge_step)


def read_rows(path: Path) -> list[dict[str, float]]:
    """A CSV written by RunLog, numbers as floats."""
    with open(path, newline="", encoding="utf-8") as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]
