"""Writing drawings to files: `rlgraph render` and the run folder's graph.png."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

import graphviz

from rlgraph.core.build import check_file
from rlgraph.core.errors import GraphError, Problem
from rlgraph.core.registry import REGISTRY, Registry
from rlgraph.core.validate import CheckedGraph

from .dot import to_digraph
from .model import drawing

#: Output suffix -> graphviz format; "dot" needs no graphviz program.
FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf", ".dot": "dot", ".gv": "dot"}
#: Pixels per inch of PNGs: sharp on high-density screens, still small files.
PNG_DPI = "144"
EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


class RenderError(RuntimeError):
    """Graphviz could not draw the picture; the DOT source was written to `dot_path`."""

    def __init__(self, message: str, dot_path: Path, output: Path) -> None:
        super().__init__(message)
        self.dot_path = dot_path
        self.output = output


class DotNotFound(RenderError):
    """Graphviz's `dot` program is not installed."""

    def __init__(self, dot_path: Path, output: Path, fmt: str) -> None:
        super().__init__(
            "the graphviz program 'dot' is not installed, so only the DOT source was "
            f"written: {dot_path}\n    hint: install graphviz (Debian/Ubuntu: sudo apt-get "
            "install graphviz; macOS: brew install graphviz; conda: conda install graphviz) "
            f"or draw it elsewhere: dot -T{fmt} {dot_path} -o {output}", dot_path, output)


class DotFailed(RenderError):
    """`dot` ran but failed, e.g. a graphviz built without PNG support."""

    def __init__(self, dot_path: Path, output: Path, fmt: str, stderr: str) -> None:
        reason = stderr.strip().splitlines()[-1] if stderr.strip() else "no message"
        super().__init__(
            f"graphviz could not draw {output}: {reason}\n    hint: the DOT source is in "
            f"{dot_path}; try another format (.svg) or check `dot -T{fmt} {dot_path}`",
            dot_path, output)


def to_dot(checked: CheckedGraph, errors: Iterable[GraphError] = (), *,
           legend: bool = True) -> str:
    """The DOT source of a checked graph; its errors (and `errors`) are drawn in red."""
    return to_digraph(drawing(checked.spec, checked.classes, [*checked.errors, *errors]),
                      legend=legend).source


def render_checked(checked: CheckedGraph, output: str | Path,
                   errors: Iterable[GraphError] = ()) -> Path:
    """Draw a checked graph to `output` (.png, .svg, .pdf or .dot) and return its path.

    Raises DotNotFound when graphviz's `dot` program is not installed and DotFailed when
    it fails (both RenderErrors, raised after writing the .dot beside `output`), and
    ValueError for an unsupported suffix.
    """
    output = Path(output)
    fmt = FORMATS.get(output.suffix.lower())
    if fmt is None:
        raise ValueError(f"cannot draw to '{output}': use one of "
                         + ", ".join(sorted(FORMATS)))
    graph = to_digraph(drawing(checked.spec, checked.classes, [*checked.errors, *errors]))
    output.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "dot":
        output.write_text(graph.source, encoding="utf-8")
        return output
    if fmt == "png":
        graph.attr("graph", dpi=PNG_DPI)
    dot_path = output.with_suffix(".dot")
    try:
        data = graph.pipe(format=fmt)
    except graphviz.ExecutableNotFound:
        dot_path.write_text(graph.source, encoding="utf-8")
        raise DotNotFound(dot_path, output, fmt) from None
    except graphviz.CalledProcessError as exc:
        dot_path.write_text(graph.source, encoding="utf-8")
        stderr = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) \
            else str(exc.stderr or "")
        raise DotFailed(dot_path, output, fmt, stderr) from None
    output.write_bytes(data)
    return output


def render_file(path: str | Path, output: str | Path, registry: Registry = REGISTRY,
                overrides: Sequence[str] = ()) -> int:
    """`rlgraph render FILE -o OUTPUT`: draw what can be drawn, report every problem.

    `overrides` are `--set key=value` strings, applied as `rlgraph run` would.
    Returns 0 when the graph is valid and drawn, 1 when it has errors (still drawn as
    far as possible, unless the file cannot be parsed at all) or `dot` is missing, 2 for
    an unsupported output suffix.
    """
    output = Path(output)
    if output.suffix.lower() not in FORMATS:
        print(f"error: cannot draw to '{output}': use one of "
              + ", ".join(sorted(FORMATS)), file=sys.stderr)
        return EXIT_USAGE
    checked, errors = check_file(path, registry, overrides)
    problems: list[Problem] = [*sorted(errors, key=_position),
                               *(checked.warnings if checked else [])]
    _report(problems)
    if checked is None:
        return EXIT_INVALID
    try:
        written = render_checked(checked, output)
    except RenderError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    if errors:
        n = len(errors)
        print(f"{path}: {n} error{'s' if n != 1 else ''}; drew what is valid to {written} "
              f"(failing nodes and wires in red)", file=sys.stderr)
        return EXIT_INVALID
    print(f"wrote {written}")
    return EXIT_OK


def _position(error: GraphError) -> tuple[bool, int, int]:
    """File order, as `rlgraph validate` prints them; errors without a line last."""
    loc = error.loc
    return (loc is None or loc.line == 0, loc.line if loc else 0, loc.col if loc else 0)


def _report(problems: Sequence[Problem]) -> None:
    for problem in problems:
        print(problem.format(), file=sys.stderr)
