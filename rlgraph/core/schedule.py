"""Orders over a checked graph: which node to build first, which to fire first in a tick.

Both are topological sorts with ties broken by the order of the YAML file, so the same
file always gives the same schedule.
"""

from __future__ import annotations

import networkx as nx

from .node import Node
from .spec import GraphSpec
from .validate import dependency_graph


def _yaml_ordered_sort(spec: GraphSpec, g: nx.MultiDiGraph) -> list[str]:
    return list(nx.lexicographical_topological_sort(g, key=lambda n: spec.nodes[n].index))


def build_order(spec: GraphSpec, classes: dict[str, type[Node]]) -> list[str]:
    """Construction order: static and non-delayed stream wires both come first."""
    return _yaml_ordered_sort(spec, dependency_graph(spec, classes, include_static=True))


def tick_order(spec: GraphSpec, classes: dict[str, type[Node]]) -> list[str]:
    """Firing order within a tick: non-delayed stream wires only; nodes that do no
    per-tick work (no `step`) are left out."""
    order = _yaml_ordered_sort(spec, dependency_graph(spec, classes, include_static=False))
    return [name for name in order if classes[name].fires()]
