"""The local Ray cluster of a placed run, bound to the loopback interface only.

`rlgraph run` starts one when a graph is placed and no Ray cluster is connected in the
process yet, and shuts it down at the end (a script or a test session that connected
one keeps it). Nothing listens on the machine's external address: Ray's own processes
(GCS, raylet, workers) accept connections from this machine only, and the dashboard is
not started.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
from typing import Any

from ..core import GraphError, GraphErrors, Loc

#: what `ray.init` is told; usage statistics are never sent
LOOPBACK = "127.0.0.1"


def ray_installed() -> bool:
    return importlib.util.find_spec("ray") is not None


def missing_ray(loc: Loc) -> GraphErrors:
    """The error for a placed graph on a machine without Ray."""
    return GraphErrors([GraphError(
        "the graph is placed on workers (placement.workers > 0), which needs Ray, and Ray "
        "is not installed", loc,
        hint="pip install -e \".[ray]\" (or pip install ray), or run it in one process: "
             "--set placement.workers=0")])


def _ray_environment() -> None:
    """Set what Ray reads from the environment before `ray.init`: keep 127.0.0.1 as the
    node's address, send no usage statistics, and leave the workers' niceness alone.

    ray.init replaces a loopback node address by the machine's external one, unless Ray
    believes the machine cannot join a cluster; this switch (made for macOS and
    Windows, read when Ray is imported) says so, and Ray's servers then bind 127.0.0.1
    only. Worker processes inherit it from the environment."""
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    # Ray lowers its worker processes' priority to nice 15; a placed run's workers are
    # its env steps, not background work: beside a busy process at nice 0 they got
    # ~1/40 of a core each (SlowCartPole, 1 worker: 61 env steps/s against 659 in one
    # process, tools/bench_placement.py). They keep the learner's niceness.
    os.environ.setdefault("RAY_worker_niceness", "0")
    constants = sys.modules.get("ray._private.ray_constants")
    if constants is not None:  # Ray was imported before: the switch was read already
        constants.ENABLE_RAY_CLUSTER = False  # type: ignore[attr-defined]


def start_ray(cpus: int | None = None) -> bool:
    """Connect this process to a new local Ray cluster on the loopback interface, unless
    it is connected to one already; whether it started one."""
    _ray_environment()
    import ray
    if ray.is_initialized():
        return False
    # Ray authenticates local connections with a token; that it says so on every start
    # is noise in a run's output
    logging.getLogger("ray._private.authentication.authentication_token_setup").setLevel(
        logging.ERROR)
    ray.init(address="local", include_dashboard=False, _node_ip_address=LOOPBACK,
             num_cpus=cpus or os.cpu_count() or 1, logging_level=logging.WARNING,
             log_to_driver=True)
    node_ip = node_address(ray)
    if node_ip != LOOPBACK:
        ray.shutdown()
        raise RuntimeError(f"Ray's node address is {node_ip}, not {LOOPBACK}: refusing to "
                           f"run workers that listen beyond this machine")
    return True


def node_address(ray: Any) -> str:
    """The address the connected Ray node listens on."""
    return str(ray.util.get_node_ip_address())


def stop_ray() -> None:
    import ray
    ray.shutdown()
