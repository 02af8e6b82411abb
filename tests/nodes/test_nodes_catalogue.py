"""Every built-in node documents itself: what `rlgraph nodes` shows a user."""

from __future__ import annotations

import inspect

import pytest

from rlgraph.cli import main
from rlgraph.core import REGISTRY

BUILTIN = [name for name in REGISTRY.names()
           if REGISTRY.resolve(name).__module__.startswith("rlgraph.nodes.")]


def test_the_dqn_family_is_registered():
    assert set(BUILTIN) >= {
        "GymEnv", "ScaleReward", "EpsilonGreedy", "Greedy", "MLP", "ReplayBuffer",
        "UniformSampler", "DQNLoss", "DoubleDQNLoss", "TargetNetwork", "Adam", "RMSprop",
        "SGD", "Metrics"}


@pytest.mark.parametrize("name", BUILTIN)
def test_node_documents_itself(name, capsys):
    cls = REGISTRY.resolve(name)
    doc = inspect.getdoc(cls) or ""
    first = doc.splitlines()[0] if doc else ""
    assert first.endswith(".") and len(first) <= 90, f"{name}: first docstring line {first!r}"
    undocumented = [f"{table}.{key}" for table in ("inputs", "outputs", "params")
                    for key, decl in getattr(cls, table).items() if not decl.doc]
    assert undocumented == []
    assert main(["nodes", name]) == 0
    shown = capsys.readouterr().out
    for key in [*cls.inputs, *cls.outputs, *cls.params]:
        assert f"  {key} " in shown


def test_every_builtin_node_imports_from_rlgraph_nodes():
    import rlgraph.nodes as nodes
    missing = [name for name in BUILTIN if name not in nodes.__all__]
    assert missing == []
    for name in BUILTIN:
        assert getattr(nodes, name) is REGISTRY.resolve(name)
    from rlgraph.nodes import DQNLoss, GymEnv  # what users try first
    assert (DQNLoss.__name__, GymEnv.__name__) == ("DQNLoss", "GymEnv")


def test_importing_rlgraph_nodes_alone_loads_neither_torch_nor_gymnasium():
    import subprocess
    import sys
    code = ("import sys, rlgraph.nodes; "
            "print(sorted(m for m in ('torch', 'gymnasium') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("name, shown", [
    ("GymEnv", "an environment: evaluation plays fresh copies of it"),
    ("EpsilonGreedy", "acting: in evaluation it acts greedily, changing no state"),
    ("Metrics", "a row source: a run writes its rows to metrics.csv"),
    ("DQNLoss", "module (static, role q)"),
    ("TargetNetwork", "module (static, role of what feeds 'source', writes)"),
    ("Adam", "repeat N"),
    ("Adam", "number or a schedule, > 0.0, default 0.001"),
    ("UniformWarmup", "acting: in evaluation it hands on what it gets"),
    ("SACActorLoss", "module (static, role critic, grad)"),
    ("Adam", "module (static, writes)"),
])
def test_rlgraph_nodes_shows_roles_and_what_the_workflow_can_ask(name, shown, capsys):
    assert main(["nodes", name]) == 0
    assert shown in capsys.readouterr().out
    import json
    assert main(["nodes", "--json"]) == 0
    entry = next(e for e in json.loads(capsys.readouterr().out) if e["name"] == "DQNLoss")
    assert entry["inputs"]["q"]["roles"] == ["q"]
