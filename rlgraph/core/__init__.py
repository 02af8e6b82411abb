"""rlgraph's engine: ports and kinds, nodes, registry, graph files, checks, schedule.

Nothing here imports torch or gymnasium.
"""

from .acting import ActingPath, acting_path
from .build import build, check_file, derive_seed, load
from .errors import GraphError, GraphErrors, GraphWarning, Loc, Problem
from .executor import Graph
from .graphfile import parse_graph, read_graph
from .node import Clock, Node, NodeConfigError, NodeDefinitionError
from .ports import ABSENT, REQUIRED, In, Kind, Out, Param, PortKind, register_role
from .protocols import (
    Acting,
    CountsEnvSteps,
    Environment,
    EvalEnvs,
    PlansMemory,
    RowSource,
    UsesGraph,
    UsesRunFolder,
    acts,
)
from .registry import REGISTRY, Registry, RegistryError, register
from .spec import GraphSpec
from .validate import CheckedGraph, check_graph

__all__ = [
    "ABSENT",
    "REGISTRY",
    "REQUIRED",
    "Acting",
    "ActingPath",
    "CheckedGraph",
    "Clock",
    "CountsEnvSteps",
    "Environment",
    "EvalEnvs",
    "Graph",
    "GraphError",
    "GraphErrors",
    "GraphSpec",
    "GraphWarning",
    "In",
    "Kind",
    "Loc",
    "Node",
    "NodeConfigError",
    "NodeDefinitionError",
    "Out",
    "Param",
    "PlansMemory",
    "PortKind",
    "Problem",
    "Registry",
    "RegistryError",
    "RowSource",
    "UsesGraph",
    "UsesRunFolder",
    "acting_path",
    "acts",
    "build",
    "check_file",
    "check_graph",
    "derive_seed",
    "load",
    "parse_graph",
    "read_graph",
    "register",
    "register_role",
]
