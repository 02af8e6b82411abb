"""Drawing agents: graph -> graphviz DOT -> PNG / SVG / PDF.

    rlgraph render graphs/dqn_target.yaml -o agent.png

- `render_file(path, output)`: the CLI command (prints problems, returns an exit code).
- `render_checked(checked, output)`: draw a CheckedGraph to a file (the run folder's
  graph.png); raises DotNotFound when graphviz's `dot` is missing, DotFailed when it
  fails (both RenderError, after writing the .dot beside the output).
- `to_dot(checked)`: the DOT source.
- `rlgraph.render(path_or_agent)`: a Diagram, inline in Jupyter, `.save(path)`.
- `drawing(spec, classes, errors)` and `to_digraph(drawing)`: the two steps beneath.
"""

import sys
import types
from typing import Any

from .diagram import Diagram, diagram
from .dot import to_digraph
from .model import HEADER_PORT, Drawing, EdgeView, NodeView, PortView, drawing, port_id
from .output import (
                     FORMATS,
                     DotFailed,
                     DotNotFound,
                     RenderError,
                     render_checked,
                     render_file,
                     to_dot,
)

__all__ = [
    "FORMATS", "HEADER_PORT", "Diagram", "DotFailed", "DotNotFound", "Drawing", "EdgeView",
    "NodeView", "PortView", "RenderError", "diagram", "drawing", "port_id", "render_checked",
    "render_file", "to_digraph", "to_dot",
]


class _CallablePackage(types.ModuleType):
    """`rlgraph.render(...)` draws a graph: the API names the verb, and the attribute
    `rlgraph.render` is this package once anything imports it, so the package itself is
    what gets called."""

    def __call__(self, graph: Any, overrides: Any = ()) -> Diagram:
        return diagram(graph, overrides)


sys.modules[__name__].__class__ = _CallablePackage
