from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import support  # noqa: E402
from rlgraph.core import Registry  # noqa: E402


@pytest.fixture
def toy_registry() -> Registry:
    """A registry holding only the toy nodes (no torch import, no entry points)."""
    return support.toy_registry()
