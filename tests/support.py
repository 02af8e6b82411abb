"""Shared test helpers, imported by test modules (conftest modules are not importable by
name once several folders have one)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from toy_nodes import TOY_NODES

from rlgraph.core import Registry

FIXTURES = Path(__file__).parent / "fixtures"


def line_of(path: Path, text: str) -> int:
    """The first line of `path` that holds `text` (graphs change; what a test locates
    does not)."""
    return next(i for i, line in enumerate(path.read_text("utf-8").splitlines(), 1)
                if text in line)


def toy_registry() -> Registry:
    """A registry holding only the toy nodes (no torch import, no entry points)."""
    reg = Registry(builtin_package=None, entry_point_group=None)
    for cls in TOY_NODES:
        reg.add(cls)
    return reg


def descendants(pid: int | None = None) -> dict[int, str]:
    """Processes started by process `pid` (this one), directly or not: pid -> command."""
    parents: dict[int, int] = {}
    commands: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            commands[int(entry.name)] = (entry / "cmdline").read_bytes().replace(
                b"\0", b" ").decode(errors="replace").strip()
        except OSError:  # gone meanwhile
            continue
        parents[int(entry.name)] = int(stat.rpartition(")")[2].split()[1])
    found, frontier = {}, [pid or os.getpid()]
    while frontier:
        parent = frontier.pop()
        for child, ppid in parents.items():
            if ppid == parent and child not in found:
                found[child] = commands.get(child, "")
                frontier.append(child)
    return found


def wait_for_no_children(which: Callable[[str], bool], timeout: float = 15.0
                         ) -> dict[int, str]:
    """Wait until no live process this one started has a command `which` selects; those
    that remain."""
    deadline = time.monotonic() + timeout
    while True:
        left = {pid: cmd for pid, cmd in descendants().items() if _alive(pid) and which(cmd)}
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.2)


def _alive(pid: int) -> bool:
    """Running (not a zombie waiting to be reaped)."""
    try:
        return (Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
                != "Z")
    except OSError:
        return False
