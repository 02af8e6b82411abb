"""Drawing agents: graph -> graphviz DOT -> PNG / SVG / PDF.

    rlgraph render graphs/dqn_target.yaml -o agent.png

- `render_file(path, output)`: the CLI command (prints problems, returns an exit code).
- `render_checked(checked, output)`: draw a CheckedGraph to a file (the run folder's
  graph.png); raises DotNotFound when graphviz's `dot` is missing, DotFailed when it
  fails (both RenderError, after writing the .dot beside the output).
- `to_dot(checked)`: the DOT source.
- `drawing(spec, classes, errors)` and `to_digraph(drawing)`: the two steps beneath.
"""

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
    "FORMATS", "HEADER_PORT", "DotFailed", "DotNotFound", "Drawing", "EdgeView", "NodeView",
    "PortView", "RenderError", "drawing", "port_id", "render_checked", "render_file",
    "to_digraph", "to_dot",
]
