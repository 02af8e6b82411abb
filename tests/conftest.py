from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from rlgraph.core import Registry  # noqa: E402
from toy_nodes import TOY_NODES  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def toy_registry() -> Registry:
    """A registry holding only the toy nodes (no torch import, no entry points)."""
    reg = Registry(builtin_package=None, entry_point_group=None)
    for cls in TOY_NODES:
        reg.add(cls)
    return reg
