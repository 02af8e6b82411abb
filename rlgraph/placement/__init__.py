"""Placed runs: a graph's `placement:` section run on worker processes (Ray).

The section and its checks are core (rlgraph.core.placement: what is cut where, found
at load); this package runs it:

- `placed(graph, total)`: a built graph as a placed run's learner (learner.PlacedGraph),
  or the graph itself when it is not placed (no section, or `workers: 0`);
- worker.py: what each worker process runs; fragments.py: what crosses between them;
- pool.py: where workers live (Ray actors, or the learner's process for tests);
- cluster.py: the local Ray cluster, bound to the loopback interface;
- heap.py: the cycle collector kept out of a placed run's way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ..core import Graph
from .cluster import missing_ray, ray_installed

if TYPE_CHECKING:
    from .pool import Pool


def placed(graph: Graph, total: int, threads: int | None = None, quiet: bool = True,
           pool: Callable[[], Pool] | None = None) -> Graph:
    """`graph` as the learner of a placed run of `total` ticks when its placement says
    so (workers start on the first tick it runs); else `graph` unchanged. `pool` makes
    the pool of workers (default: Ray processes, pool.RayPool)."""
    placement = graph.spec.placement
    if placement is None or placement.workers == 0:
        return graph
    from .learner import PlacedGraph
    from .pool import RayPool
    if pool is None:
        if not ray_installed():
            raise missing_ray(placement.where("workers"))
        pool = RayPool
    return PlacedGraph(graph, total, pool, threads, quiet)


__all__ = ["placed"]
