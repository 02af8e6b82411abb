"""rlgraph's engine: ports and kinds, nodes, registry, graph files, checks, schedule.

Nothing here imports torch or gymnasium.
"""

from .build import build, check_file, derive_seed, load
from .errors import GraphError, GraphErrors, GraphWarning, Loc, Problem
from .executor import Graph
from .node import Clock, Node, NodeConfigError, NodeDefinitionError
from .ports import ABSENT, REQUIRED, In, Kind, Out, Param
from .registry import REGISTRY, Registry, RegistryError, register
from .graphfile import parse_graph, read_graph
from .spec import GraphSpec
from .validate import CheckedGraph, check_graph

__all__ = [
    "ABSENT", "REGISTRY", "REQUIRED", "CheckedGraph", "Clock", "Graph", "GraphError",
    "GraphErrors", "GraphSpec", "GraphWarning", "In", "Kind", "Loc", "Node",
    "NodeConfigError", "NodeDefinitionError", "Out", "Param", "Problem", "Registry", "RegistryError",
    "build", "check_file", "check_graph", "derive_seed", "load", "parse_graph", "read_graph", "register",
]
