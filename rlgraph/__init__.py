"""rlgraph: deep-RL agents as typed dataflow graphs, written in YAML."""

from .core import (
                   ABSENT,
                   REQUIRED,
                   Graph,
                   GraphError,
                   GraphErrors,
                   In,
                   Kind,
                   Node,
                   Out,
                   Param,
                   build,
                   load,
                   register,
)

__version__ = "0.1.0"

__all__ = ["ABSENT", "REQUIRED", "Graph", "GraphError", "GraphErrors", "In", "Kind", "Node",
           "Out", "Param", "__version__", "build", "load", "register"]
