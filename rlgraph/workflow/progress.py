"""Progress of a run: a live bar on a terminal, a line updated in place in Jupyter, plain
periodic lines otherwise."""

from __future__ import annotations

import sys
import time
from typing import Any

#: report keys shown while running, and their short labels (every key goes to the
#: summary and TensorBoard; the bar keeps to the numbers a person watches)
SHOWN = {"env_steps": "steps", "steps_per_s": "steps/s", "return_mean": "return",
         "eval_return": "eval", "epsilon": "eps", "loss": "loss"}
LINE_EVERY_S = 5.0


def key_numbers(report: dict[str, Any]) -> list[tuple[str, Any]]:
    """(label, value) of the watched report keys; a key several nodes report is
    labelled with the node (`a.loss:loss`)."""
    found: dict[str, list[tuple[str, Any]]] = {key: [] for key in SHOWN}
    for full, value in report.items():
        node, _, key = full.rpartition("/")
        if key in found:
            found[key].append((node, value))
    out = []
    for key, hits in found.items():
        for node, value in hits:
            out.append((SHOWN[key] if len(hits) == 1 else f"{node}:{SHOWN[key]}", value))
    return out


def format_numbers(numbers: list[tuple[str, Any]]) -> str:
    return "  ".join(f"{label} {_short(value)}" for label, value in numbers)


def _short(value: Any) -> str:
    if isinstance(value, float):
        if value != value or abs(value) >= 1000:
            return f"{value:,.0f}"
        return f"{value:.3g}"
    return f"{value:,}" if isinstance(value, int) else str(value)


class Progress:
    """A rich bar on a terminal; in a Jupyter notebook, one output line updated in place;
    a plain line every 5 s otherwise (a pipe, a log file); nothing when quiet."""

    def __init__(self, total: int, start_tick: int = 0, quiet: bool = False) -> None:
        self.total, self.quiet = total, quiet
        self.last_line = time.perf_counter()
        self.bar: Any = None
        self.cell: Any = None
        if not quiet and sys.stdout.isatty():
            self.bar = _bar()
            self.task = self.bar.add_task("run", total=total, completed=start_tick)
            self.bar.start()
        elif not quiet and in_jupyter():
            from IPython.display import display
            self.start, self.start_tick = time.perf_counter(), start_tick
            self.cell = display({"text/plain": self._cell_text(start_tick, "")}, raw=True,
                                display_id=True)

    def update(self, tick: int, report: dict[str, Any]) -> None:
        if self.quiet:
            return
        info = format_numbers(key_numbers(report))
        if self.bar is not None:
            self.bar.info = info
            self.bar.update(self.task, completed=tick)
        elif self.cell is not None:
            self.cell.update({"text/plain": self._cell_text(tick, info)}, raw=True)
        elif time.perf_counter() - self.last_line >= LINE_EVERY_S or tick >= self.total:
            self.last_line = time.perf_counter()
            print(f"[{tick}/{self.total}] {info}", flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()

    def _cell_text(self, tick: int, info: str) -> str:
        """`ticks ━━━━━━━━━━────────── 2,000/5,000 40% 0:03` and the key numbers."""
        done = tick / self.total if self.total else 1.0
        filled = round(BAR_WIDTH * done)
        elapsed = int(time.perf_counter() - self.start)
        return (f"ticks {'━' * filled}{'─' * (BAR_WIDTH - filled)} {tick:,}/{self.total:,} "
                f"{done:.0%} {elapsed // 60}:{elapsed % 60:02d}" + (f"\n  {info}" if info else ""))


BAR_WIDTH = 30


def in_jupyter() -> bool:
    """Whether this runs in a Jupyter kernel (where stdout is no terminal, but a line
    can be redrawn in place); rich's test, without importing IPython when absent."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return type(shell).__name__ == "ZMQInteractiveShell"


def _bar() -> Any:
    """A rich progress bar with the key numbers on a line of their own below it, so that
    a narrow terminal truncates neither."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class Bar(Progress):
        info = ""

        def get_renderables(self):
            yield self.make_tasks_table(self.tasks)
            yield Text("  " + self.info)

    return Bar(TextColumn("ticks"), BarColumn(bar_width=30), MofNCompleteColumn(),
               TaskProgressColumn(), TimeElapsedColumn(), TextColumn("eta"),
               TimeRemainingColumn())
