"""Fuzz the graph-file reader: mutants of the shipped graphs through `rlgraph validate`.

    python tools/fuzz_graphs.py --n 10000 --seed 0 [--keep DIR] [--timeout 5]

Each mutant is one mutation of one shipped graph file (graphs/*.yaml, graphs/lib/*.yaml,
examples/*/*.yaml), made at the text level (deleted, duplicated, swapped or re-indented
lines, stray YAML punctuation, control characters, invalid UTF-8, truncation, huge,
negative, NaN and 4,301-digit numbers, tags like `!!int abc`, deep nesting, alias
fan-out, self-referencing aliases, BOMs, CR line ends, several documents, ...) or at the
data level (deleted keys, values of another type, node types that are unknown,
unimportable, dangerous or non-YAML files, broken wires, delays and triggers, huge or NaN
params, subgraph types that are symlinks to a README, a binary file, a directory, a FIFO,
/dev/zero or a loop). Every mutant runs through `rlgraph validate` in this process, with
its output captured, a time limit and a memory limit, and is classified:

- ok:        exit 0;
- located:   exit 1, and every line the user reads is `file:line:col: error|warning: ...`
             (or an indented continuation, hint or summary);
- messy:     located, but a line echoes raw control characters or runs past 400
             characters (a pasted file, a pasted PyYAML message);
- unlocated: exit 1 with an error line that names no line and column;
- traceback: an exception escaped the command, or it reported an internal error (3);
- hang:      it ran past the time limit.

The goal is 0 tracebacks, 0 hangs, 0 unlocated (tests/test_fuzz_graphs.py runs a few
hundred mutants of a fixed seed in CI). `--keep DIR` writes every mutant that is not ok
or located to DIR, named by class, kind and number, to reproduce it with
`rlgraph validate`.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import resource
import shutil
import signal
import sys
import tempfile
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fuzz_mutations import Mutant, mutants

ROOT = Path(__file__).resolve().parent.parent
SOURCE_GLOBS = ("graphs/*.yaml", "graphs/lib/*.yaml", "examples/*/*.yaml")
CLASSES = ("ok", "located", "messy", "unlocated", "traceback", "hang")
MUTANT = "_fuzz.yaml"  # the mutant's name, beside its source (relative paths resolve)
LOCATED = re.compile(r"^(--set .*|.+:\d+:\d+): (error|warning): ")
SUMMARY = re.compile(r"^.+: (\d+ errors?|ok \(.*\))$")
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ufeff]")


# ---- running one mutant ------------------------------------------------------------------
class Hang(BaseException):
    """The time limit passed (a BaseException: `except Exception` in the code under test
    does not swallow it)."""


@dataclass
class Outcome:
    cls: str
    rc: int | None
    output: str
    seconds: float


def prepare_workspace(folder: Path) -> None:
    """A copy of the graphs and examples, plus the odd files symlinks point at."""
    for name in ("graphs", "examples"):
        shutil.copytree(ROOT / name, folder / name)
    shutil.copy(ROOT / "README.md", folder / "README.md")
    (folder / "binary.bin").write_bytes(bytes(range(256)) * 40)
    (folder / "big.yaml").write_text("# big\n" + "x: 1\n" * 3_000_000, encoding="utf-8")


def place_beside(where: Path, workspace: Path, beside: dict[str, str | bytes]) -> list[Path]:
    made = []
    for name, what in beside.items():
        path = where / name
        if isinstance(what, bytes):
            path.write_bytes(what)
        elif what == "dangling":
            path.symlink_to(where / "_no_such_target.yaml")
        elif what == "loop":
            path.symlink_to(where / "_fuzz_loop.yaml")
            (where / "_fuzz_loop.yaml").symlink_to(path)
            made.append(where / "_fuzz_loop.yaml")
        elif what == "fifo":
            os.mkfifo(path)
        elif what == "lib":
            path.symlink_to(workspace / "graphs" / "lib", target_is_directory=True)
        else:
            path.symlink_to(what if what.startswith("/") else workspace / what)
        made.append(path)
    return made


def classify(rc: int | None, output: str) -> str:
    if rc == 0:
        return "ok"
    if rc != 1:
        return "traceback"
    cls = "located"
    for line in output.splitlines():
        if not line or line.startswith(" ") or SUMMARY.match(line):
            if len(line) > 400 or RAW_CONTROL.search(line):
                cls = "messy"
            continue
        if not LOCATED.match(line):
            return "unlocated"
        if len(line) > 400 or RAW_CONTROL.search(line):
            cls = "messy"
    return cls


def run_one(path: Path, timeout: float) -> Outcome:
    from rlgraph.cli import main

    def alarm(signum: int, frame: Any) -> None:
        raise Hang

    out, err = io.StringIO(), io.StringIO()
    old = signal.signal(signal.SIGALRM, alarm)
    start = time.perf_counter()
    rc: int | None = None
    cls = None
    try:
        signal.setitimer(signal.ITIMER_REAL, timeout)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = main(["validate", str(path)])
    except Hang:
        cls = "hang"
    except SystemExit as exc:  # argparse: a usage error is not what we fuzz
        rc = exc.code if isinstance(exc.code, int) else 2
    except BaseException:
        cls = "traceback"
        err.write(traceback.format_exc())
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    seconds = time.perf_counter() - start
    text = err.getvalue()
    return Outcome(cls or classify(rc, text), rc, out.getvalue() + text, seconds)


def limit_memory(gigabytes: float) -> None:
    """Cap this process's address space `gigabytes` above what it uses now, so that a
    mutant that would eat the machine raises MemoryError (counted as a traceback)."""
    with open("/proc/self/statm") as f:
        used = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    cap = used + int(gigabytes * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))


@dataclass
class Report:
    counts: Counter = field(default_factory=Counter)
    by_kind: dict[str, Counter] = field(default_factory=dict)
    examples: dict[str, list[tuple[int, str, str]]] = field(default_factory=dict)
    slowest: tuple[float, int, str] = (0.0, -1, "")
    seconds: float = 0.0
    n: int = 0

    def add(self, i: int, kind: str, source: str, outcome: Outcome) -> None:
        self.n += 1
        self.counts[outcome.cls] += 1
        self.by_kind.setdefault(outcome.cls, Counter())[kind] += 1
        if outcome.cls not in ("ok", "located"):
            self.examples.setdefault(outcome.cls, []).append(
                (i, f"{kind} of {source}", outcome.output[-600:]))
        if outcome.seconds > self.slowest[0]:
            self.slowest = (outcome.seconds, i, kind)

    def format(self) -> str:
        lines = [f"{self.n} mutants in {self.seconds:.1f} s"]
        lines += [f"  {c:<10} {self.counts.get(c, 0):>6}" for c in CLASSES]
        lines.append(f"  slowest: {self.slowest[0]:.2f} s (mutant {self.slowest[1]}, "
                     f"{self.slowest[2]})")
        for cls in CLASSES[2:]:
            if cls in self.by_kind:
                kinds = ", ".join(f"{k} {n}" for k, n in self.by_kind[cls].most_common())
                lines.append(f"  {cls} by kind: {kinds}")
        return "\n".join(lines)


def fuzz(n: int, seed: int, timeout: float = 5.0, keep: Path | None = None,
         progress: bool = False, memory_gb: float | None = 4.0, start: int = 0) -> Report:
    """Run n mutants of fixed seed (from number `start`); the report of their classes."""
    # Import every node module first: the registry imports them on first use, and a
    # timeout that lands inside `import torch` would leave torch half imported.
    from rlgraph.core import REGISTRY
    REGISTRY.names()
    if memory_gb:
        limit_memory(memory_gb)
    report = Report()
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="rlgraph-fuzz-") as tmp:
        workspace = Path(tmp)
        prepare_workspace(workspace)
        sources = sorted(p for g in SOURCE_GLOBS for p in workspace.glob(g)
                         if p.name != MUTANT)
        for i, source, mutant in mutants(seed, n, sources, start):
            path = source.parent / MUTANT
            path.write_bytes(mutant.data)
            made = place_beside(source.parent, workspace, mutant.beside)
            try:
                outcome = run_one(path, timeout)
            finally:
                for extra in [path, *made]:
                    extra.unlink(missing_ok=True)
            rel = str(source.relative_to(workspace))
            report.add(i, mutant.kind, rel, outcome)
            if keep is not None and outcome.cls not in ("ok", "located"):
                _keep(keep, i, outcome.cls, mutant, rel, outcome.output)
            if progress and report.n % 500 == 0:
                print(f"{report.n}: {dict(report.counts)}", file=sys.stderr, flush=True)
    report.seconds = time.perf_counter() - began
    return report



def _keep(folder: Path, i: int, cls: str, mutant: Mutant, source: str, output: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{cls}-{i:05d}-{re.sub(r'[^a-z0-9]+', '_', mutant.kind)}"
    (folder / f"{stem}.yaml").write_bytes(mutant.data)
    (folder / f"{stem}.txt").write_text(f"source: {source}\nbeside: {mutant.beside}\n\n"
                                        f"{output}", encoding="utf-8", errors="replace")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10_000, help="mutants (default 10000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--start", type=int, default=0,
                        help="number of the first mutant (to run a long fuzz in parts)")
    parser.add_argument("--timeout", type=float, default=5.0,
                        help="seconds before a mutant counts as a hang (default 5)")
    parser.add_argument("--memory-gb", type=float, default=4.0,
                        help="address space allowed above the start (default 4 GB)")
    parser.add_argument("--keep", type=Path, help="write the bad mutants here")
    parser.add_argument("--show", type=int, default=3,
                        help="examples printed per bad class (default 3)")
    args = parser.parse_args(argv)
    report = fuzz(args.n, args.seed, args.timeout, args.keep, progress=True,
                  memory_gb=args.memory_gb, start=args.start)
    print(report.format())
    for cls, found in report.examples.items():
        for i, what, output in found[: args.show]:
            print(f"\n--- {cls}: mutant {i}, {what}\n{output.strip()}")
    bad = sum(report.counts.get(c, 0) for c in ("unlocated", "traceback", "hang"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
