"""rlgraph: deep-RL agents as typed dataflow graphs, written in YAML.

From Python: `rlgraph.Agent("graphs/dqn_target.yaml").learn(20_000)` (see rlgraph.agent)
and `rlgraph.render("graphs/dqn_target.yaml")` (a diagram, inline in Jupyter). Both are
imported on first use, so `import rlgraph` alone loads neither torch nor gymnasium.
"""

from typing import Any

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

__all__ = ["ABSENT", "REQUIRED", "Agent", "Graph", "GraphError", "GraphErrors", "In", "Kind",
           "Node", "Out", "Param", "Score", "__version__", "build", "load", "register",
           "render"]


def __getattr__(name: str) -> Any:
    if name in ("Agent", "Score"):
        from . import agent
        return getattr(agent, name)
    if name == "render":  # the package, callable: rlgraph.render(path) -> Diagram
        import importlib
        return importlib.import_module(".render", __name__)
    raise AttributeError(f"module 'rlgraph' has no attribute '{name}'")
