from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import support

from rlgraph.core import Registry


@pytest.fixture
def toy_registry() -> Registry:
    """A registry holding only the toy nodes (no torch import, no entry points)."""
    return support.toy_registry()


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Small networks: one thread is fastest on a shared 2-core machine and keeps runs
    reproducible."""
    import torch
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def ray_cluster():
    """One local Ray cluster (loopback only) for the whole test run, shut down at its end,
    leaving no Ray process behind. Workers import the tests' node modules as the tests
    do: this folder goes on their PYTHONPATH."""
    pytest.importorskip("ray")
    from rlgraph.placement.cluster import start_ray, stop_ray
    here = str(Path(__file__).parent)
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (here, os.environ.get("PYTHONPATH")) if p)
    assert start_ray(cpus=2), "a Ray cluster was already connected"
    yield
    stop_ray()
    left = support.wait_for_no_children(lambda command: "ray" in command)
    assert not left, f"Ray processes left behind: {left}"
