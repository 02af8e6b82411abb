"""Run folders stand on their own: the node modules a graph imports from beside its file
(`type: my_losses:MSELoss` with my_losses.py next to the YAML) are copied in beside the
run's graph.yaml, where `rlgraph resume`, `rlgraph eval` and `rlgraph.Agent.load` look
for them, from whatever directory they are run in."""

from __future__ import annotations

import shutil
from pathlib import Path

from ..core import CheckedGraph


def node_module_sources(checked: CheckedGraph) -> list[Path]:
    """The files (a module) and folders (a package) beside the graph file that its
    `module:Class` node types were imported from."""
    base = checked.spec.base_dir
    if base is None:
        return []
    found: set[Path] = set()
    for node in checked.spec.nodes.values():
        if ":" not in node.type:
            continue
        top = node.type.partition(":")[0].split(".")[0]
        for source in (base / f"{top}.py", base / top):
            if source.is_file() or (source / "__init__.py").is_file():
                found.add(source.resolve())
    return sorted(found)


def copy_node_modules(checked: CheckedGraph, run_dir: Path) -> list[Path]:
    """Copy the graph's own node modules into `run_dir`; the copies' paths."""
    copied = []
    for source in node_module_sources(checked):
        target = run_dir / source.name
        if target.resolve() == source:  # rebuilt from this run folder
            continue
        if source.is_dir():
            shutil.copytree(source, target, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, target)
        copied.append(target)
    return copied
