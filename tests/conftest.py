from __future__ import annotations

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
