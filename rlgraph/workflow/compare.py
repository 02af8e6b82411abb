"""`rlgraph compare A.yaml B.yaml --seeds 5`: each graph over seeds, one picture.

Every (graph, seed) pair is an ordinary run in its own folder under the output folder
(`<out>/<graph file stem>/seed-<s>/`), run in worker processes side by side (`--jobs`,
default: as many as there are cores and runs; each worker uses one torch thread). When
all are done, the curves are drawn as one band per graph (rlgraph.plots) and the numbers
written to a CSV next to the picture.
"""

from __future__ import annotations

import contextlib
import io
import json
import multiprocessing
import os
import sys
import traceback
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from ..core import GraphErrors, load
from .plots import check_picture, plot, read_curve, y_label
from .runner import RunOptions, make_run_dir


def _one_run(file: str, seed: int, steps: int | None, overrides: Sequence[str],
             out: str) -> tuple[int, str]:
    """A worker: one quiet run on one torch thread, its exit code and its last output
    lines."""
    from .runner import run_graph
    text = io.StringIO()
    with contextlib.redirect_stdout(text), contextlib.redirect_stderr(text):
        try:
            code = run_graph(file, steps=steps, seed=seed, overrides=overrides, out=out,
                             options=RunOptions(quiet=True, checkpoint_every=0,
                                                tensorboard=False, threads=1))
        except GraphErrors as exc:
            print(exc.format())
            code = 1
        except Exception as exc:  # a bug: its traceback goes to the run's log
            from ..cli import EXIT_INTERNAL, internal_error
            traceback.print_exc(file=text)
            print(internal_error(exc))
            code = EXIT_INTERNAL
    (Path(out) / "run.log").write_text(text.getvalue(), encoding="utf-8")
    return code, text.getvalue()


def compare(files: Sequence[str], seeds: int, output: str | Path | None = None,
            steps: int | None = None, jobs: int | None = None,
            overrides: Sequence[str] = (), out_dir: str | Path | None = None,
            y: str = "return", smooth: int = 10) -> int:
    for file in files:  # every graph and the picture's name check before any run starts
        load(file, overrides=overrides)
    if output:
        output = check_picture(output)
    folder = make_run_dir("compare", out_dir)
    stems = _labels(files)
    runs = [(file, stems[file], seed) for file in files for seed in range(1, seeds + 1)]
    jobs = jobs or max(1, min(os.cpu_count() or 1, len(runs)))
    print(f"{len(runs)} runs ({len(files)} graphs x {seeds} seeds), {jobs} at a time, "
          f"in {folder}/", flush=True)
    (folder / "compare.json").write_text(json.dumps(
        {"files": list(files), "seeds": list(range(1, seeds + 1)), "steps": steps,
         "set": list(overrides)}, indent=2) + "\n", encoding="utf-8")
    failed: list[str] = []
    codes: set[int] = set()
    done: dict[str, list[Path]] = {file: [] for file in files}
    context = multiprocessing.get_context("spawn")  # no fork of a process using torch
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=context)
    try:
        futures: dict[Any, tuple[str, int, Path]] = {}
        for file, stem, seed in runs:
            run_dir = folder / stem / f"seed-{seed}"
            futures[pool.submit(_one_run, file, seed, steps, list(overrides),
                                str(run_dir))] = (file, seed, run_dir)
        for future in as_completed(futures):
            file, seed, run_dir = futures[future]
            code, text = future.result()
            lines = [line for line in text.splitlines() if line.strip()]
            if code == 0:
                done[file].append(run_dir)
                print(f"  {stems[file]} seed {seed}: {_headline(lines, run_dir, y, smooth)}",
                      flush=True)
            else:
                failed.append(f"{stems[file]} seed {seed}")
                codes.add(code)
                print(f"  {stems[file]} seed {seed}: FAILED (exit {code})\n    "
                      + "\n    ".join(lines[-5:]), file=sys.stderr, flush=True)
    except KeyboardInterrupt:  # the running workers save and stop on the same Ctrl-C
        pool.shutdown(wait=True, cancel_futures=True)
        print(f"interrupted; finished runs are in {folder}/ (`rlgraph plot` draws them)",
              file=sys.stderr)
        return 130
    pool.shutdown()
    groups = {}
    for file, dirs in done.items():
        if dirs:
            groups[stems[file]] = [read_curve(d, y, smooth) for d in sorted(dirs)]
    output = output or folder / "curves.png"
    if groups:
        table = plot(groups, output, y, title=f"{' vs '.join(groups)}: "
                     f"mean ± std over {seeds} seeds", smooth=smooth)
        print(f"wrote {output} and {table}")
    if failed:
        print(f"{len(failed)} run(s) failed: {', '.join(failed)}", file=sys.stderr)
        return max(codes) if codes <= {1, 3} else 1  # a bug in any run is a bug (3)
    return 0


def _labels(files: Sequence[str]) -> dict[str, str]:
    """A short, unique label per graph file: its stem (with its folder when two clash)."""
    stems = {f: Path(f).stem for f in files}
    if len(set(stems.values())) < len(stems):
        stems = {f: f"{Path(f).parent.name}-{Path(f).stem}" for f in files}
    if len(set(stems.values())) < len(stems):
        stems = {f: f"{i}-{Path(f).stem}" for i, f in enumerate(files, 1)}
    return stems


def _headline(lines: list[str], run_dir: Path, y: str, smooth: int) -> str:
    """The run's ticks and time, and the last point of its curve, the number the
    picture ends on (said which it is)."""
    first = next((line for line in lines if " ticks in " in line), "done")
    try:
        curve = read_curve(run_dir, y, smooth)
    except GraphErrors:
        return first.split(": ", 1)[-1]
    last = f", {y_label(y, smooth)} {curve.y[-1]:.1f}" if curve.y else ""
    return first.split(": ", 1)[-1] + last
