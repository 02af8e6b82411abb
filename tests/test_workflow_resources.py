"""Values that validate but would crash or fill the machine's memory at run time are
located errors before anything large is allocated."""

from __future__ import annotations

import resource
import time

import pytest
import torch
from support import line_of
from workflow_nodes import GRAPHS

from rlgraph.cli import main
from rlgraph.core import NodeConfigError
from rlgraph.core import memory as machine
from rlgraph.nodes.data import Transition
from rlgraph.nodes.replay import ReplayMemory

GB = 10**9
DQN = str(GRAPHS / "dqn_target.yaml")
QUIET = ["--quiet", "--no-tensorboard"]


@pytest.fixture
def small_machine(monkeypatch):
    """A machine with 4 GB available of 8 GB, whatever this one has."""
    monkeypatch.setattr(machine, "machine_memory", lambda: (4 * GB, 8 * GB))


def run(tmp_path, capsys, *overrides: str) -> tuple[int, str]:
    """`rlgraph run` of dqn_target with overrides; the exit code and stderr, after
    checking that it answered quickly and grew the process by well under a GB."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    start = time.perf_counter()
    args = [f"--set={o}" for o in overrides]
    code = main(["run", DQN, "--steps", "50", "--out", str(tmp_path / "run"), *QUIET, *args])
    assert time.perf_counter() - start < 10  # a guard against hangs, not a benchmark
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before
    assert grown < GB // 2
    return code, capsys.readouterr().err


@pytest.mark.parametrize("override, expected", [
    ("optim.lr=.nan", "node 'optim': param 'lr' must be a finite number, got nan"),
    ("loss.gamma=.inf", "node 'loss': param 'gamma' must be a finite number, got inf"),
    ("qnet.hidden=[9223372036854775808]", "node 'qnet': param 'hidden' item 0 must be at "
                                          "most 2**63 - 1 in magnitude, got a number of 19 "
                                          "digits"),
    ("seed=18446744073709551616", "'seed' must be at most 2**63 - 1, got a number of 20 "
                                  "digits"),
    ("replay.capacity=1e12", "node 'replay': param 'capacity' must be integer, got number "
                             "1000000000000.0"),
])
def test_values_no_run_can_use_are_refused_at_load(tmp_path, capsys, override, expected):
    code, err = run(tmp_path, capsys, override)
    assert code == 1 and f"--set {override}: error: {expected}" in err, err
    assert not (tmp_path / "run").exists()  # refused before the run folder was made


@pytest.mark.parametrize("override, node, expected", [
    ("replay.capacity=1000000000000", "replay",
     "replay (a replay buffer of 1,000,000,000,000 transitions of 46 bytes) would take "
     "46.0 TB, more than the 4.0 GB of memory this machine has available (8.0 GB in all)"),
    ("replay.capacity=100000000", "replay",
     "replay (a replay buffer of 100,000,000 transitions of 46 bytes) would take 4.6 GB"),
    ("qnet.hidden=[1000000000000]", "qnet",
     "qnet (a network of 7,000,000,000,002 parameters, weights and gradients) would take "
     "56.0 TB"),
    ("qnet.hidden=[30000, 30000]", "qnet",
     "qnet (a network of 900,240,002 parameters, weights and gradients) would take 7.2 GB"),
])
def test_what_cannot_fit_is_a_located_error_before_it_is_allocated(
        tmp_path, capsys, small_machine, override, node, expected):
    code, err = run(tmp_path, capsys, override)
    assert code == 1 and f"error: node '{node}': {expected}" in err, err
    assert "dqn_target.yaml:" in err and "Traceback" not in err


def test_what_the_nodes_reserve_adds_up(tmp_path, capsys, monkeypatch):
    """The network (weights and gradients) fits, and its target copy; Adam's two moments
    on top do not."""
    monkeypatch.setattr(machine, "machine_memory", lambda: (400 * 10**6, GB))
    code, err = run(tmp_path, capsys, "qnet.hidden=[5000, 5000]")
    assert code == 1, err
    assert ("error: node 'optim': optim (Adam's state for 25,040,002 parameters) would take "
            "200.3 MB; with the 300.5 MB the graph's other parts take (qnet (a network of "
            "25,040,002 parameters, weights and gradients) 200.3 MB, target (a copy of the "
            "source network) 100.2 MB, the delay line of env.action (1 tick) 550 bytes), that "
            "is more than the 400.0 MB of memory this machine has available (1.0 GB in all)"
            ) in err, err


def test_a_delay_no_memory_holds_is_an_error_at_the_wire(tmp_path, capsys):
    graph = tmp_path / "delayed.yaml"
    graph.write_text((GRAPHS / "dqn_target.yaml").read_text(encoding="utf-8").replace(
        "delay: 1}", "delay: 4611686018427387904}"), encoding="utf-8")
    code = main(["run", str(graph), "--steps", "5", "--out", str(tmp_path / "run"), *QUIET])
    err = capsys.readouterr().err
    assert code == 1, err
    line = line_of(graph, "delay: 4611686018427387904}")
    assert (f"{graph}:{line}:15: error: node 'env', port 'action': the delay line of env.action "
            f"(4,611,686,018,427,387,904 ticks) would take 2,536,427,310.1 TB, more than the "
            ) in err


def test_an_env_id_naming_a_missing_module_is_a_located_error(tmp_path, capsys):
    code, err = run(tmp_path, capsys, "env.id=nosuchmod:Foo-v0")
    assert code == 1 and "Traceback" not in err, err
    line = line_of(GRAPHS / "dqn_target.yaml", "  env:")
    assert (f"dqn_target.yaml:{line}:3: error: node 'env': cannot make gymnasium env "
            "'nosuchmod:Foo-v0': ModuleNotFoundError: No module named 'nosuchmod'") in err


def test_a_batch_larger_than_the_buffer_can_hold_is_a_warning(capsys):
    assert main(["validate", DQN, "--set", "sample.batch_size=1000000000"]) == 0
    err = capsys.readouterr().err
    assert ("--set sample.batch_size=1000000000: warning: node 'sample': batch_size "
            "1,000,000,000 is "
            "larger than the capacity 100,000 of 'replay', which it reads through 'buffer': "
            "it never gets that many and never fires") in err, err


def test_a_huge_seed_on_the_command_line_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["run", DQN, "--seed", str(2**64)])
    assert exit_.value.code == 2 and "must be at most 2**63 - 1" in capsys.readouterr().err


def test_a_replay_memory_checks_its_exact_size_before_allocating(small_machine):
    memory = ReplayMemory(capacity=10**9, owner="replay")
    row = Transition(obs=torch.zeros(1, 4), action=torch.zeros(1, dtype=torch.int64),
                     reward=torch.zeros(1), next_obs=torch.zeros(1, 4),
                     terminated=torch.zeros(1, dtype=torch.bool),
                     truncated=torch.zeros(1, dtype=torch.bool))
    with pytest.raises(NodeConfigError, match=r"replay \(a replay buffer of 1,000,000,000 "
                       r"transitions of 46 bytes\) would take 46\.0 GB"):
        memory.add(row)
    assert memory.storage == {}
