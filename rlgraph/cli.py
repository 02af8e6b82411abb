"""The `rlgraph` command: validate, run, resume, eval, compare, plot, nodes, render,
schema."""

from __future__ import annotations

import argparse
import contextlib
import difflib
import json
import os
import sys
import traceback
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from .core import REGISTRY, GraphErrors, RegistryError, check_file
from .core.errors import Problem
from .core.ports import INT_LIMIT

#: 0 ok; 1 an invalid graph or another mistake a user can fix (a message says what and
#: where); 2 wrong command-line usage; 3 an internal error (a bug: a traceback and a
#: request to report it); 130 stopped with Ctrl-C; 141 the output pipe closed (| head)
EXIT_OK, EXIT_INVALID, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3
EXIT_INTERRUPTED, EXIT_PIPE = 130, 141


def _print_problems(problems: Sequence[Problem]) -> None:
    for problem in problems:
        print(problem.format(), file=sys.stderr)


def cmd_validate(args: argparse.Namespace) -> int:
    failed = 0
    for path in args.files:
        checked, errors = check_file(path, REGISTRY, args.set)
        warnings = list(checked.warnings) if checked is not None else []
        if args.build and checked is not None and not errors:
            errors = build_errors(checked)
        errors = sorted(errors, key=_position)
        _print_problems([*errors, *warnings])
        if errors or checked is None:
            failed += 1
            n = len(errors)
            print(f"{path}: {n} error{'s' if n != 1 else ''}", file=sys.stderr)
        else:
            n = len(warnings)
            print(f"{path}: ok ({len(checked.spec.nodes)} nodes"
                  + (f", {n} warning{'s' if n != 1 else ''}" if n else "") + ")"
                  + (", built: its envs and networks were made" if args.build else
                     "; envs and networks not built (--build makes them: env ids, "
                     "spaces, sizes)"))
    return EXIT_INVALID if failed else EXIT_OK


def build_errors(checked) -> list:
    """What building a valid graph finds (an env id gymnasium does not know, a network
    that cannot take the env's spaces): its located errors; the graph is closed again.
    Nothing is trained."""
    from .core import build
    try:
        build(checked).close()
    except GraphErrors as exc:
        return exc.errors
    return []


def _position(error: Problem) -> tuple:
    """File order: errors of the file by line, command-line overrides last."""
    loc = error.loc
    return (loc is None or loc.line == 0, loc.line if loc else 0, loc.col if loc else 0)


def _run_options(args: argparse.Namespace):
    from .workflow.runner import RunOptions
    return RunOptions(quiet=args.quiet, checkpoint_every=args.checkpoint_every,
                      keep=args.keep_checkpoints, replay=args.checkpoint_replay,
                      tensorboard=args.tensorboard, threads=args.threads,
                      profile=args.profile,
                      eval_every=args.eval_every, eval_episodes=args.eval_episodes,
                      final_episodes=args.final_episodes)


def cmd_run(args: argparse.Namespace) -> int:
    from .workflow.runner import run_graph
    return run_graph(args.file, steps=args.steps, seed=args.seed, overrides=args.set,
                     out=args.out, options=_run_options(args))


def cmd_resume(args: argparse.Namespace) -> int:
    from .workflow.runner import resume_run
    return resume_run(args.run_dir, steps=args.steps, options=_run_options(args))


def cmd_eval(args: argparse.Namespace) -> int:
    from .workflow.evaluate import eval_run
    return eval_run(args.target, episodes=args.episodes, seed=args.seed, q=args.q,
                    checkpoint=args.checkpoint,
                    video=args.video, video_episodes=args.video_episodes)


def cmd_compare(args: argparse.Namespace) -> int:
    from .workflow.compare import compare
    return compare(args.files, args.seeds, output=args.output, steps=args.steps,
                   jobs=args.jobs, overrides=args.set, out_dir=args.out, y=args.y,
                   smooth=args.smooth)


def cmd_plot(args: argparse.Namespace) -> int:
    from .workflow.plots import plot_runs
    return plot_runs(args.run_dirs, args.output, y=args.y, smooth=args.smooth,
                     title=args.title)


def cmd_nodes(args: argparse.Namespace) -> int:
    from .describe import describe_type, list_types
    if args.json:
        from .schema import nodes_json
        print(json.dumps(nodes_json(REGISTRY), indent=2, default=str))
        return EXIT_OK
    if not args.type:
        print(list_types(REGISTRY))
        return EXIT_OK
    try:
        cls = REGISTRY.resolve(args.type, base_dir=Path.cwd())
    except RegistryError as exc:
        print(f"error: {exc.message}" + (f"\n    hint: {exc.hint}" if exc.hint else ""),
              file=sys.stderr)
        return EXIT_INVALID
    print(describe_type(args.type, cls))
    return EXIT_OK


def cmd_schema(args: argparse.Namespace) -> int:
    from .schema import graph_schema
    text = json.dumps(graph_schema(REGISTRY), indent=2, default=str) + "\n"
    if args.output in (None, "-"):
        print(text, end="")
    else:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {args.output}")
    return EXIT_OK


def cmd_render(args: argparse.Namespace) -> int:
    from .render import render_file
    return render_file(args.file, args.output, overrides=args.set)


def count(low: int) -> Callable[[str], int]:
    """argparse type: an integer from low to 2**63 - 1 (a bad value is a usage error,
    exit 2)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{text[:40]}' is not an integer") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be >= {low}, got {value}")
        if value > INT_LIMIT:
            raise argparse.ArgumentTypeError("must be at most 2**63 - 1")
        return value
    return parse


def add_set_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a param or trigger, e.g. loss.gamma=0.98 "
                             "(repeatable; nested names like agent_a.loss.gamma work)")


def add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    parser.add_argument("--checkpoint-every", type=count(0), metavar="TICKS",
                        help="checkpoint every TICKS ticks (default: a tenth of the run; "
                             "0: only at the end and on Ctrl-C)")
    parser.add_argument("--keep-checkpoints", type=count(1), default=2, metavar="K",
                        help="newest checkpoints kept (default 2)")
    parser.add_argument("--checkpoint-replay", action=argparse.BooleanOptionalAction,
                        default=True, help="save replay contents in checkpoints (default: "
                        "yes; without them a resumed run starts with an empty buffer and "
                        "is no longer exact)")
    parser.add_argument("--tensorboard", action=argparse.BooleanOptionalAction, default=True,
                        help="write TensorBoard events to tb/ (default: yes)")
    parser.add_argument("--threads", type=count(1),
                        help="torch threads (default: $RLGRAPH_THREADS, else 1: fastest "
                             "for small networks)")
    parser.add_argument("--profile", action="store_true",
                        help="time every node: share of wall time, calls and µs per call, "
                             "printed at the end and written to summary.json")
    parser.add_argument("--eval-every", type=count(0), metavar="TICKS",
                        help="greedy evaluation every TICKS ticks, into eval.csv; the best "
                             "one's state is kept as checkpoints/best.pt (default: a "
                             "twentieth of the run, or what a resumed run had; 0: none "
                             "during training)")
    parser.add_argument("--eval-episodes", type=count(1), metavar="N",
                        help="episodes per evaluation (default 10)")
    parser.add_argument("--final-episodes", type=count(0), metavar="N",
                        help="episodes of the final evaluation, the run's verdict "
                             "(default 20; 0: none)")


def add_curve_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--y", choices=("return", "eval"), default="return",
                        help="training episode returns (metrics.csv) or greedy evaluation "
                             "returns (eval.csv)")
    parser.add_argument("--smooth", type=count(1), default=10,
                        help="training returns: mean of the last N episodes (default 10)")


class Parser(argparse.ArgumentParser):
    """argparse, with a did-you-mean for a mistyped option (`--stpes` -> `--steps`)
    among the options of the command it was given to."""

    commands: Mapping[str, argparse.ArgumentParser]

    def parse_args(self, args: Sequence[str] | None = None,  # type: ignore[override]
                   namespace: argparse.Namespace | None = None) -> argparse.Namespace:
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            command = self.commands.get(getattr(parsed, "command", "") or "", self)
            options = [o for action in command._actions for o in action.option_strings]
            hints = [f"{arg}: did you mean {close[0]}?" for arg in extras
                     if arg.startswith("-") and (close := difflib.get_close_matches(
                         arg.partition("=")[0], options, n=1, cutoff=0.6))]
            command.error(f"unrecognized arguments: {' '.join(extras)}"
                          + "".join(f"\n  {hint}" for hint in hints))
        return parsed


def make_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="rlgraph", description="Deep-RL agents as typed dataflow graphs.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    parser.commands = sub.choices

    p = sub.add_parser("validate", help="check graph files; report every problem")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--build", action="store_true",
                   help="also build each graph: make its envs and networks (no training), "
                        "which finds unknown env ids and networks that cannot take the "
                        "env's spaces")
    add_set_option(p)
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("run", help="build a graph and train it in a new run folder")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--steps", type=count(1), help="ticks to run (default: the file's 'steps')")
    p.add_argument("--seed", type=count(0), help="graph seed (default: the file's 'seed')")
    p.add_argument("--out", metavar="DIR",
                   help="run folder (default: runs/<graph>-<timestamp>; never overwritten)")
    add_set_option(p)
    add_run_options(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("resume", help="continue a run folder from its newest checkpoint")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--steps", type=count(1),
                   help="run until this tick (default: the graph's 'steps')")
    add_run_options(p)
    p.set_defaults(func=cmd_resume)

    p = sub.add_parser("eval", help="greedy episodes of a run's trained network")
    p.add_argument("target", metavar="RUN_DIR|CHECKPOINT")
    p.add_argument("--episodes", type=count(1), default=10, help="episodes (default 10)")
    p.add_argument("--seed", type=count(0), default=1_000_000,
                   help="seed of the first episode's env (default 1000000)")
    p.add_argument("--q", metavar="NODE.PORT",
                   help="the network to act with (default: the one the policy uses)")
    p.add_argument("--checkpoint", metavar="best|last|FILE",
                   help="which checkpoint of a run folder: last (default: the newest, "
                        "the agent the run ended with), best (checkpoints/best.pt, the "
                        "best evaluation during the run), or a file in checkpoints/")
    p.add_argument("--video", metavar="FILE",
                   help="record episodes to FILE (.mp4 or .gif; needs the video extra: "
                        "pip install -e \".[video]\")")
    p.add_argument("--video-episodes", type=count(1), default=1, metavar="N",
                   help="episodes recorded, the first N evaluated (default 1)")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("compare", help="run graphs over seeds; plot mean ± std curves")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--seeds", type=count(1), default=5, help="seeds 1..N per graph (default 5)")
    p.add_argument("-o", "--output", metavar="PNG",
                   help="picture (default: curves.png in the output folder); the CSV goes "
                        "beside it")
    p.add_argument("--steps", type=count(1), help="ticks per run (default: each file's)")
    p.add_argument("--jobs", type=count(1), help="runs side by side (default: min(cores, runs))")
    p.add_argument("--out", metavar="DIR",
                   help="folder for the runs (default: runs/compare-<timestamp>)")
    add_curve_options(p)
    add_set_option(p)
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("plot", help="plot finished runs, one band per graph")
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    p.add_argument("-o", "--output", required=True, metavar="PNG",
                   help="picture (.png, .svg, .pdf); the CSV goes beside it")
    p.add_argument("--title", help="title of the plot")
    add_curve_options(p)
    p.set_defaults(func=cmd_plot)

    p = sub.add_parser("nodes", help="list node types, or describe one")
    p.add_argument("type", nargs="?", metavar="TYPE")
    p.add_argument("--json", action="store_true", help="all types as JSON, for tools")
    p.set_defaults(func=cmd_nodes)

    p = sub.add_parser("schema", help="write the JSON Schema of graph files")
    p.add_argument("-o", "--output", help="output file (default: standard output)")
    p.set_defaults(func=cmd_schema)

    p = sub.add_parser("render", help="draw a graph to PNG, SVG or DOT")
    p.add_argument("file", metavar="FILE")
    p.add_argument("-o", "--output", required=True,
                   help="output file (.png, .svg, .pdf, .dot)")
    add_set_option(p)
    p.set_defaults(func=cmd_render)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    try:
        return args.func(args)
    except GraphErrors as exc:
        print(exc.format(), file=sys.stderr)
        return EXIT_INVALID
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `rlgraph nodes | head`: the reader has what it wanted
        with contextlib.suppress(OSError):  # and Python's own flush at exit stays quiet
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_PIPE
    except Exception as exc:  # anything else is a bug: say so, apart from user mistakes
        traceback.print_exc()
        print(internal_error(exc), file=sys.stderr)
        return EXIT_INTERNAL


def internal_error(exc: Exception) -> str:
    """What to tell a user about an exception no check foresaw."""
    first = (str(exc).strip().splitlines() or [""])[0][:200]
    return (f"internal error: {type(exc).__name__}{': ' + first if first else ''}\n"
            f"This is a bug, not a mistake in your graph or command: in rlgraph, or in a "
            f"custom node's code when the traceback above ends there. Please report it "
            f"with the traceback above and the command you ran (exit code "
            f"{EXIT_INTERNAL}).")


if __name__ == "__main__":
    sys.exit(main())
