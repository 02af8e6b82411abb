"""`rlgraph run` and `rlgraph resume`: train a graph with progress, logs and checkpoints.

A run folder (`runs/<graph>-<timestamp>/`, or `--out DIR`, never overwritten) holds:
- graph.yaml     the graph exactly as it ran (overrides applied, derived seeds noted)
- graph.png      the wiring diagram (graph.dot when graphviz's `dot` is missing)
- metrics.csv    one row per finished episode (tick, env_steps, episode, return, length)
- eval.csv       one row per greedy evaluation: every --eval-every ticks and at the end
                 (scoring.RunEvaluation)
- tb/            TensorBoard events: episode returns, evaluations, every node's report
- checkpoints/   ckpt-<tick>.pt: the whole graph state, every --checkpoint-every ticks,
                 at the end, and on Ctrl-C; best.pt: the state of the best evaluation
- summary.json   written at the start (status running) and at the end: ticks, wall
                 time, seeds, status, failure if any, every node's final report, and the
                 verdict (final evaluation, best evaluation, solved or not)
"""

from __future__ import annotations

import contextlib
import errno
import json
import random
import re
import signal
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ..core import (
    REGISTRY,
    CheckedGraph,
    Graph,
    GraphError,
    GraphErrors,
    Loc,
    UsesRunFolder,
    build,
    load,
)
from ..core.dump import dump_spec
from ..placement import placed
from . import checkpoint as ckpt
from .profile import Profiler, profile_table
from .progress import Progress
from .scoring import RunEvaluation, verdict_lines
from .sources import copy_node_modules
from .writers import RunLog, env_steps

EXIT_OK, EXIT_FAILED, EXIT_INTERRUPTED = 0, 1, 130
#: evaluations during a run by default, greedy episodes in each, and in the final one
EVALS_PER_RUN, EVAL_EPISODES, FINAL_EPISODES = 20, 10, 20
TURNED_OFF = "turned off (--eval-every 0 --final-episodes 0)"


@dataclass
class RunOptions:
    """How a run checkpoints, logs and shows progress."""

    quiet: bool = False
    checkpoint_every: int | None = None  # ticks; None: a tenth of the run; 0: only at the end
    keep: int = 2  # newest checkpoints kept
    replay: bool = True  # replay contents in checkpoints (exact resume)
    tensorboard: bool = True
    threads: int | None = None  # torch threads; None: RLGRAPH_THREADS, else 1
    profile: bool = False  # time every node (rlgraph.workflow.profile)
    # evaluations (None: a resumed run keeps its own, a new run takes the default)
    eval_every: int | None = None  # ticks; default a twentieth of the run; 0: none
    eval_episodes: int | None = None  # default 10
    final_episodes: int | None = None  # default 20; 0: no final evaluation


def collect_report(graph: Graph) -> dict[str, Any]:
    """Every node's report, keyed `node/metric` (a placed run's adds its workers')."""
    return graph.report()


def _safe_report(graph: Graph) -> dict[str, Any]:
    """The report for a summary; a node whose report fails after a crash costs its
    numbers, not the summary."""
    try:
        return collect_report(graph)
    except Exception:
        return {}


def make_run_dir(name: str, out: str | Path | None) -> Path:
    """A new, empty run folder; an existing non-empty one is never overwritten."""
    path = check_run_dir(name, out)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # a file where a parent folder should be, no permission, ...
        raise GraphErrors([GraphError(f"cannot create run folder {path}: {exc.strerror}",
                                      Loc(str(path)), hint="choose another --out")]) from None
    return path


def check_run_dir(name: str, out: str | Path | None) -> Path:
    """Where a new run folder goes, checked but not made yet (a build that fails must
    leave no empty folder behind)."""
    path = Path(out) if out else Path("runs") / f"{name}-{datetime.now():%Y%m%d-%H%M%S}"
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        what = "is a file" if not path.is_dir() else "already exists and is not empty"
        raise GraphErrors([GraphError(
            f"run folder {path} {what}", Loc(str(path)),
            hint="choose another --out or move the old folder away (a stopped run "
                 "continues with `rlgraph resume DIR`)")])
    return path


def disk_error(exc: OSError, run_dir: Path) -> GraphErrors:
    """A write into the run folder that failed (a full disk, a folder removed under the
    run), as an error naming the folder and what survives."""
    full = exc.errno in (errno.ENOSPC, errno.EDQUOT)
    reason = "the disk is full" if full else (exc.strerror or str(exc))
    file = f" ({Path(exc.filename).name})" if exc.filename else ""
    saved = ckpt.list_checkpoints(run_dir) if run_dir.is_dir() else []
    if saved:
        hint = (f"{'free some space, then ' if full else ''}`rlgraph resume {run_dir}` "
                f"continues from its last checkpoint, {saved[-1].name}")
    else:
        hint = ("free some space, or choose another --out, and run again" if full
                else "check the folder, and run again")
    return GraphErrors([GraphError(f"cannot write in the run folder {run_dir}{file}: "
                                   f"{reason}", Loc(str(run_dir)), hint=hint)])


class Drawing(threading.Thread):
    """graph.png, drawn by graphviz in a thread while the run starts; a write that fails
    (a full disk) is kept in `error`, for the session to raise at its next chunk."""

    def __init__(self, checked: CheckedGraph, run_dir: Path) -> None:
        super().__init__(name="rlgraph-draw", daemon=True)
        self.checked, self.run_dir = checked, run_dir
        self.error: OSError | None = None

    def run(self) -> None:
        try:
            draw(self.checked, self.run_dir)
        except OSError as exc:
            self.error = exc


def start_run_dir(checked: CheckedGraph, graph: Graph, run_dir: Path) -> Drawing:
    """What a run folder holds before the first tick: graph.yaml (the graph as it runs),
    the node modules it imports from beside its file (so that resume and eval work from
    anywhere), and graph.png, drawn by graphviz while the run starts (the thread to join
    before the run ends: Session does)."""
    try:
        (run_dir / "graph.yaml").write_text(dump_spec(checked.spec, graph.seeds),
                                            encoding="utf-8")
        copy_node_modules(checked, run_dir)
    except OSError as exc:
        raise disk_error(exc, run_dir) from None
    drawing = Drawing(checked, run_dir)
    drawing.start()
    return drawing


def draw(checked: CheckedGraph, run_dir: Path) -> None:
    """graph.png in the run folder; a missing graphviz costs the picture, not the run."""
    try:
        from ..render import RenderError, render_checked
    except ImportError:  # rendering is optional for running
        return
    try:
        render_checked(checked, run_dir / "graph.png")
    except RenderError as exc:
        print(f"note: {exc}", file=sys.stderr)


def set_threads(threads: int | None) -> None:
    """torch's thread count for the run (rlgraph.nodes.device.configure_threads); a bad
    RLGRAPH_THREADS is a located user error."""
    from ..nodes.device import configure_threads
    configure_threads(threads)


def seed_globals(seed: int) -> None:
    """Seed the process-wide RNGs too, for nodes that draw from them."""
    import numpy as np
    import torch
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


def run_graph(path: str | Path, steps: int | None = None, seed: int | None = None,
              quiet: bool = False, overrides: Sequence[str] = (),
              out: str | Path | None = None, options: RunOptions | None = None) -> int:
    """Build a graph file and train it in a new run folder; the exit code."""
    options = options or RunOptions(quiet=quiet)
    set_threads(options.threads)
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
    planned = check_run_dir(checked.spec.name, out)
    if seed is not None:
        checked.spec.seed = seed
    seed_globals(checked.spec.seed)
    graph = build(checked)
    try:
        graph = placed(graph, ticks, options.threads, options.quiet)
        run_dir = make_run_dir(checked.spec.name, planned)
        drawing = start_run_dir(checked, graph, run_dir)
    except BaseException:
        graph.close()
        raise
    return Session(graph, run_dir, str(path), ticks, options, drawing=drawing).run()


def resume_run(run_dir: str | Path, steps: int | None = None,
               options: RunOptions | None = None) -> int:
    """Continue a run folder from its newest checkpoint, into the same folder, until
    tick `steps` (default: the graph's steps)."""
    options = options or RunOptions()
    set_threads(options.threads)
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ckpt.checkpoint_error(run_dir, "no such run folder")
    path = ckpt.latest(run_dir)
    graph, payload = open_checkpoint(run_dir, path)
    total = steps if steps is not None else graph.spec.steps
    if total is None or total <= graph.tick:
        raise GraphErrors([GraphError(
            f"the run is already at tick {graph.tick} of {total}", Loc(str(path)),
            hint=f"pass --steps N with N > {graph.tick} to run longer")])
    if total != graph.spec.steps:  # graph.yaml keeps saying how long the run is
        yaml_path = run_dir / "graph.yaml"
        text = re.sub(r"(?m)^steps: \d+$", f"steps: {total}", yaml_path.read_text("utf-8"))
        try:
            atomic_write(yaml_path, text)
        except OSError as exc:
            graph.close()
            raise disk_error(exc, run_dir) from None
    print(f"resuming {graph.spec.name} from {path} (tick {graph.tick})")
    try:
        graph = placed(graph, total, options.threads, options.quiet)
    except BaseException:
        graph.close()
        raise
    return Session(graph, run_dir, read_summary(run_dir).get("file", str(run_dir / "graph.yaml")),
                   total, options, resumed=payload).run()


def open_checkpoint(run_dir: Path, path: Path) -> tuple[Graph, dict[str, Any]]:
    """The run's graph, built from its graph.yaml, with the checkpoint loaded."""
    yaml_path = run_dir / "graph.yaml"
    if not yaml_path.is_file():
        raise GraphErrors([GraphError("not a run folder: no graph.yaml", Loc(str(run_dir)),
                                      hint="pass a folder that `rlgraph run` wrote")])
    payload = ckpt.read(path)
    with _beside(read_summary(run_dir).get("file")):
        checked = load(yaml_path, REGISTRY)
    graph = build(checked)
    try:
        ckpt.restore(graph, payload, path)
    except BaseException:
        graph.close()
        raise
    return graph, payload


@contextmanager
def _beside(original: str | None) -> Iterator[None]:
    """Node modules named `module:Class` beside the original graph file stay
    importable when the graph is rebuilt from the run folder."""
    folder = str(Path(original).resolve().parent) if original else ""
    added = bool(folder) and folder not in sys.path
    if added:
        sys.path.insert(0, folder)
    try:
        yield
    finally:
        if added:
            sys.path.remove(folder)


def atomic_write(path: Path, text: str) -> None:
    """Write `text` to a temporary file beside `path`, then rename it over `path`; a
    failed write leaves `path` as it was and no temporary file."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_summary(run_dir: Path) -> dict[str, Any]:
    try:
        return json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


class WriteFailed(Exception):
    """A write into the run folder failed (`error`, an OSError: a full disk)."""

    def __init__(self, error: OSError) -> None:
        super().__init__(str(error))
        self.error = error


class Session:
    """One stretch of training in a run folder: the chunked tick loop with its logs,
    progress, checkpoints, Ctrl-C handling and summary."""

    def __init__(self, graph: Graph, run_dir: Path, file: str, total: int,
                 options: RunOptions, resumed: dict[str, Any] | None = None,
                 keep_open: bool = False, drawing: Drawing | None = None) -> None:
        self.graph, self.run_dir, self.file, self.total = graph, run_dir, file, total
        self.options = options
        self.resumed = resumed
        self.keep_open = keep_open  # the graph goes on (rlgraph.Agent); else closed at the end
        self.profile: dict[str, Any] | None = None
        self.drawing = drawing  # graph.png, drawn beside the first ticks
        every = options.checkpoint_every
        self.every = max(1, total // 10) if every is None else every
        self.chunk = max(1, min(1000, total // 100, self.every or total))
        extra = (resumed or {}).get("extra", {})
        self.wall_before = float(extra.get("wall_s", 0.0))
        self.eval_s = float(extra.get("eval_s", 0.0))  # wall time spent evaluating
        self.stop_requested = False
        self.saved: Path | None = None  # the checkpoint this session wrote last
        self.start = time.perf_counter()
        self.evaluation, self.no_evaluation = self._evaluation(extra.get("evaluation"))

    def _evaluation(self, saved: dict[str, Any] | None
                    ) -> tuple[RunEvaluation | None, str | None]:
        """The run's evaluations, continuing a resumed run's rows and best; or None and
        why not."""
        o = self.options

        def option(value: int | None, key: str, default: int) -> int:
            return value if value is not None else saved[key] if saved else default

        every = option(o.eval_every, "every", max(1, self.total // EVALS_PER_RUN))
        final = option(o.final_episodes, "final_episodes", FINAL_EPISODES)
        if not every and not final:
            return None, TURNED_OFF
        try:
            evaluation = RunEvaluation(self.graph, every,
                                       option(o.eval_episodes, "episodes", EVAL_EPISODES),
                                       final)
        except GraphErrors as exc:
            first = exc.errors[0]
            return None, first.message + (f" ({first.hint})" if first.hint else "")
        if saved:
            evaluation.load_state_dict(saved)
        return evaluation, None

    # ---- the loop ------------------------------------------------------------------
    def run(self) -> int:
        """Train to `total` ticks; the exit code. A write into the run folder that fails
        (a full disk) ends the run as failed, its last good checkpoint kept."""
        try:
            return self._run()
        except WriteFailed as failed:
            exc = failed.error
            with contextlib.suppress(OSError, AttributeError):
                self.log.close()
            failure = {"error": f"cannot write in {self.run_dir}: "
                                f"{exc.strerror or exc}", "tick": self.graph.tick}
            try:
                self.write_summary("failed", failure)
            except OSError:  # the disk is still full: say so beside the error
                print(f"note: {self.run_dir / 'summary.json'} could not be updated either",
                      file=sys.stderr)
            raise disk_error(exc, self.run_dir) from None

    def _run(self) -> int:
        graph, options = self.graph, self.options
        evaluation = self.evaluation
        if self.no_evaluation not in (None, TURNED_OFF):
            print(f"note: no evaluation in this run: {self.no_evaluation}", file=sys.stderr)
        try:
            with self._writes():
                self.log = RunLog(self.run_dir, graph, options.tensorboard,
                                  self.resumed is not None,
                                  [evaluation] if evaluation is not None else [])
            for node in graph.nodes.values():
                if isinstance(node, UsesRunFolder):
                    node.use_run_folder(self.run_dir)
            with self._writes():
                self.start = time.perf_counter()
                self.write_summary("running")
        except BaseException:
            self._join_drawing()
            graph.close()
            raise
        self.progress = progress = Progress(self.total, graph.tick, options.quiet)
        profiler = Profiler(graph) if options.profile else None
        status, failure, code = "finished", None, EXIT_OK
        try:
            with nullcontext() if self.keep_open else graph, self._signals():
                try:
                    while graph.tick < self.total:
                        graph.run(self._next_chunk())
                        if self._between_chunks(graph):
                            status, code = "interrupted", EXIT_INTERRUPTED
                            break
                finally:
                    progress.close()
                    if profiler is not None:
                        self.profile = profiler.finish()
                new_best = status == "finished" and self._evaluate(final=True)
                self._check_drawing(wait=True)
                with self._writes():
                    self.log.write(graph, self.report())
                    self.save(best=new_best)
        except KeyboardInterrupt:  # a second Ctrl-C, mid-tick: the state is not whole
            status, code = "interrupted", EXIT_INTERRUPTED
            print("stopped without saving: Ctrl-C came in the middle of a tick",
                  file=sys.stderr)
        except FloatingPointError as exc:
            status, code = "failed", EXIT_FAILED
            failure = {"error": str(exc), "node": getattr(exc, "node", None),
                       "tick": getattr(exc, "tick", graph.tick)}
            with self._writes():
                self.log.write(graph, self.report())
            print(f"error: {exc}", file=sys.stderr)
        except WriteFailed:  # run() says so
            raise
        except BaseException as exc:
            self._join_drawing()
            self.log.close()
            self.write_summary("failed", {"error": f"{type(exc).__name__}: {exc}",
                                          "tick": graph.tick})
            raise
        self._join_drawing()
        with self._writes():
            self.log.close()
            self.write_summary(status, failure)
        self.print_summary(status)
        return code

    def _join_drawing(self) -> None:
        if self.drawing is not None:
            self.drawing.join()

    def _check_drawing(self, wait: bool = False) -> None:
        """Raise a write that failed while drawing graph.png, once it is done."""
        drawing = self.drawing
        if drawing is None or (drawing.is_alive() and not wait):
            return
        drawing.join()
        self.drawing = None
        if drawing.error is not None:
            raise WriteFailed(drawing.error)

    @contextmanager
    def _writes(self) -> Iterator[None]:
        """Writes into the run folder: an OSError there (a full disk) ends the run as
        WriteFailed; one from a node's own code stays what it is."""
        try:
            yield
        except OSError as exc:
            raise WriteFailed(exc) from exc

    def _next_chunk(self) -> int:
        """Ticks until the next chunk boundary; checkpoints fall on multiples of every."""
        tick, n = self.graph.tick, min(self.chunk, self.total - self.graph.tick)
        if self.every:
            n = min(n, self.every - tick % self.every)
        if self.evaluation is not None and self.evaluation.every:
            n = min(n, self.evaluation.every - tick % self.evaluation.every)
        return n

    def _between_chunks(self, graph: Graph) -> bool:
        """An evaluation, logs, progress, checkpoints when due; whether to stop (Ctrl-C)."""
        new_best = self._evaluate(final=False)
        report = self.report()
        self._check_drawing()
        with self._writes():
            self.log.write(graph, report)
        self.progress.update(graph.tick, report)
        rolling = bool(self.every) and graph.tick % self.every == 0 and graph.tick < self.total
        if rolling or new_best:
            with self._writes():
                self.save(rolling=rolling, best=new_best)
        return self.stop_requested

    def _evaluate(self, final: bool) -> bool:
        """The scheduled evaluation when one falls on this tick (the final one covers the
        last tick), or the final one; whether it is the run's best so far."""
        evaluation, tick = self.evaluation, self.graph.tick
        if evaluation is None:
            return False
        start = time.perf_counter()
        if final:
            new_best = evaluation.finish(self.graph)
        elif evaluation.due(tick) and (tick < self.total or not evaluation.final_episodes):
            new_best = evaluation.evaluate(self.graph)
        else:
            return False
        self.eval_s += time.perf_counter() - start
        return new_best

    def report(self) -> dict[str, Any]:
        """Every node's report, and the latest evaluation's (`evaluation/eval_return`)."""
        report = collect_report(self.graph)
        if self.evaluation is not None:
            report.update({f"{self.evaluation.name}/{key}": value
                           for key, value in self.evaluation.report().items()})
        return report

    # ---- checkpoints ---------------------------------------------------------------
    def save(self, rolling: bool = True, best: bool = False) -> None:
        """Checkpoint now (between chunks: the graph's state is whole): a rolling one
        (the newest `keep` are kept) and/or best.pt, after a new best evaluation."""
        graph = self.graph
        path = ckpt.checkpoint_path(self.run_dir, graph.tick)
        rolling = rolling and path != self.saved
        if not (rolling or best):
            return
        evaluation = self.evaluation
        payload = ckpt.snapshot(graph, self.options.replay, {
            "wall_s": self.wall_s(), "eval_s": self.eval_s, "total": self.total,
            "evaluation": evaluation.state_dict() if evaluation is not None else None})
        if rolling:
            ckpt.save(payload, path)
            ckpt.prune(self.run_dir, max(1, self.options.keep))
            self.saved = path
        if best:
            ckpt.save(payload, ckpt.best_path(self.run_dir))
        self.log.flush()

    def wall_s(self) -> float:
        return self.wall_before + time.perf_counter() - self.start

    @contextmanager
    def _signals(self) -> Iterator[None]:
        """Ctrl-C (or SIGTERM) asks to stop at the next chunk boundary, where the state is
        whole and can be saved; a second Ctrl-C stops at once, without saving."""
        def ask(signum: int, frame: Any) -> None:
            if self.stop_requested:
                raise KeyboardInterrupt
            self.stop_requested = True
            print("\nstopping after this chunk of ticks and saving a checkpoint "
                  "(Ctrl-C again to stop now, without saving)", file=sys.stderr, flush=True)

        try:
            old = {s: signal.signal(s, ask) for s in (signal.SIGINT, signal.SIGTERM)}
        except ValueError:  # not the main thread: no handlers, Ctrl-C stops at once
            yield
            return
        try:
            yield
        finally:
            for s, handler in old.items():
                signal.signal(s, handler)

    # ---- the end -------------------------------------------------------------------
    def write_summary(self, status: str, failure: dict[str, Any] | None = None) -> None:
        graph = self.graph
        wall = self.wall_s()
        saved = ckpt.list_checkpoints(self.run_dir)
        checkpoint = self.saved or (saved[-1] if saved else None)
        summary: dict[str, Any] = {
            "graph": graph.spec.name, "file": self.file, "seed": graph.spec.seed,
            "status": status, "ticks": graph.tick, "total_ticks": self.total,
            "env_steps": env_steps(graph), "interrupted": status == "interrupted",
            "wall_s": round(wall, 3), "ticks_per_s": round(graph.tick / max(wall, 1e-9), 1),
            "checkpoint": str(checkpoint) if checkpoint else None,
            "resumed_from_tick": self.resumed["tick"] if self.resumed else None,
            "report": _safe_report(graph), "seeds": graph.seeds,
            "eval_s": round(self.eval_s, 3), "evaluation": self._verdict()}
        if failure:
            summary["failure"] = failure
        if self.profile is not None:
            summary["profile"] = self.profile
        self.summary = summary
        text = json.dumps(summary, indent=2, default=float) + "\n"
        try:
            atomic_write(self.run_dir / "summary.json", text)
        except OSError:
            if status == "running":
                raise
            # a final status matters more than atomicity: rewrite the file in place,
            # in the blocks truncating it frees
            (self.run_dir / "summary.json").write_text(text, encoding="utf-8")

    def _verdict(self) -> dict[str, Any]:
        if self.evaluation is None:
            return {"skipped": self.no_evaluation}
        verdict = self.evaluation.verdict()
        best = ckpt.best_path(self.run_dir)
        if verdict["best"] is not None and best.is_file():
            verdict["best"] = {**verdict["best"], "checkpoint": str(best)}
        return verdict

    def print_summary(self, status: str) -> None:
        s = self.summary
        note = {"finished": "", "interrupted": " — interrupted", "failed": " — failed"}[status]
        print(f"{s['graph']}: {s['ticks']} ticks in {s['wall_s']:.2f} s "
              f"({s['ticks_per_s']:,.0f} ticks/s), seed {s['seed']}{note}")
        for key, value in s["report"].items():
            print(f"  {key:<32} {value:.6g}" if isinstance(value, float)
                  else f"  {key:<32} {value}")
        for line in verdict_lines(s["evaluation"]):
            print(line)
        if self.profile is not None:
            print(profile_table(self.profile))
        if s["checkpoint"]:
            print(f"last checkpoint: {s['checkpoint']}")
        if status == "interrupted" and s["checkpoint"]:
            print(f"continue with: rlgraph resume {self.run_dir}")
        print(f"results in {self.run_dir}/")
