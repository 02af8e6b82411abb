"""Shared test helpers, imported by test modules (conftest modules are not importable by
name once several folders have one)."""

from __future__ import annotations

from pathlib import Path

from toy_nodes import TOY_NODES

from rlgraph.core import Registry

FIXTURES = Path(__file__).parent / "fixtures"


def toy_registry() -> Registry:
    """A registry holding only the toy nodes (no torch import, no entry points)."""
    reg = Registry(builtin_package=None, entry_point_group=None)
    for cls in TOY_NODES:
        reg.add(cls)
    return reg
