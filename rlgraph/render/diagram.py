"""A drawing for Python and Jupyter: `rlgraph.render("graphs/dqn_target.yaml")` and
`Agent.render()` return a Diagram, which shows itself inline in a notebook (SVG) and
saves to a file."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import graphviz

from rlgraph.core.build import check_file
from rlgraph.core.errors import GraphErrors
from rlgraph.core.registry import REGISTRY
from rlgraph.core.validate import CheckedGraph

from .output import render_checked, to_dot


class Diagram:
    """The wiring diagram of a graph: inline SVG in Jupyter, `save(path)` to .png, .svg,
    .pdf or .dot, `source` for the DOT text. A graph with errors is drawn with the
    mistakes in red (as `rlgraph render` draws it); `errors` lists them."""

    def __init__(self, checked: CheckedGraph) -> None:
        self.checked = checked
        self.errors = list(checked.errors)
        self._svg: str | None = None

    @property
    def source(self) -> str:
        """The DOT source."""
        return to_dot(self.checked)

    def save(self, path: str | Path) -> Path:
        """Draw to `path` (its suffix picks the format); the path written. Without
        graphviz's `dot` program, a RenderError that says how to install it."""
        return render_checked(self.checked, path)

    def _repr_svg_(self) -> str | None:
        """Jupyter's inline picture; None (the text repr) when `dot` is missing."""
        if self._svg is None:
            try:
                self._svg = graphviz.Source(self.source).pipe(format="svg").decode()
            except graphviz.ExecutableNotFound:
                return None
        return self._svg

    def __repr__(self) -> str:
        spec = self.checked.spec
        problems = f", {len(self.errors)} errors" if self.errors else ""
        return f"<Diagram of graph '{spec.name}': {len(spec.nodes)} nodes{problems}>"


def diagram(graph: str | Path | Any, overrides: Sequence[str] = ()) -> Diagram:
    """The diagram of a graph file (`overrides` as `--set` strings) or of an
    rlgraph.Agent. A file with errors is drawn with them in red, and each is also
    issued as a Python warning; a file that cannot be read raises GraphErrors."""
    render = getattr(graph, "render", None)
    if callable(render) and not isinstance(graph, (str, Path)):
        return render()
    checked, errors = check_file(graph, REGISTRY, overrides)
    if checked is None:
        raise GraphErrors(errors)
    checked.errors = errors
    for error in errors:
        warnings.warn(error.format(), stacklevel=3)  # the caller of rlgraph.render
    return Diagram(checked)
