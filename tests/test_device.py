"""The graph-level `device:` end to end, and the torch thread setting for runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from rlgraph.core import GraphErrors, NodeConfigError, build, load
from rlgraph.nodes.device import THREADS_ENV, configure_threads
from rlgraph.nodes.envs import GymEnv
from rlgraph.nodes.policies import EpsilonGreedy, Greedy
from rlgraph.nodes.target import TargetNetwork

ROOT = Path(__file__).resolve().parent.parent
DQN = ROOT / "graphs" / "dqn_target.yaml"
HAS_CUDA = torch.cuda.is_available()
needs_cuda = pytest.mark.skipif(not HAS_CUDA, reason="needs a CUDA device")
without_cuda = pytest.mark.skipif(HAS_CUDA, reason="this machine has CUDA")

# a short dqn_target: learning starts after 200 ticks, so 400 ticks exercise every node
SHORT = ["sample.after=200", "target.after=200"]


def test_device_auto_builds_and_runs_on_the_cpu_here():
    expected = "cuda" if HAS_CUDA else "cpu"
    graph = build(load(DQN, overrides=["device=auto", *SHORT]), seed=1)
    with graph:
        graph.run(400)
        assert graph.value("env.obs").device.type == expected
        assert graph.nodes["env"].env_steps == 399
        assert graph.nodes["optim"].updates > 0


def test_device_auto_on_a_cpu_machine_gives_the_same_run_as_cpu():
    if HAS_CUDA:
        pytest.skip("auto means cuda on this machine")
    returns = []
    for device in ("cpu", "auto"):
        graph = build(load(DQN, overrides=[f"device={device}", *SHORT]), seed=2)
        with graph:
            graph.run(600)
            returns.append([row["return"] for row in graph.nodes["metrics"].rows])
    assert returns[0] == returns[1] and len(returns[0]) > 5


@without_cuda
def test_device_cuda_without_cuda_is_a_located_build_error_with_a_hint():
    with pytest.raises(GraphErrors) as info:
        build(load(DQN, overrides=["device=cuda"]), seed=1)
    text = str(info.value)
    assert "dqn_target.yaml:" in text  # located at a node of the file
    assert "device 'cuda' was asked for" in text and "0 CUDA device(s)" in text
    assert "use device: cpu, or device: auto" in text


@without_cuda
def test_rlgraph_run_with_device_cuda_without_cuda_exits_one_without_traceback(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "rlgraph", "run", str(DQN), "--set", "device=cuda",
         "--steps", "10", "--out", str(tmp_path / "run")],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
        env=dict(os.environ, PYTHONPATH=os.pathsep.join(
            [str(ROOT), os.environ.get("PYTHONPATH", "")])))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "device 'cuda' was asked for" in result.stderr
    assert "use device: cpu, or device: auto" in result.stderr


@without_cuda
def test_gym_env_on_a_missing_device_is_a_config_error():
    with pytest.raises(NodeConfigError, match="device 'cuda:1'") as info:
        GymEnv(id="CartPole-v1", device="cuda:1")
    assert "device: auto" in (info.value.hint or "")


@needs_cuda
def test_nodes_keep_their_tensors_on_cuda():
    env = GymEnv(seed=0, id="CartPole-v1", num_envs=3, device="cuda")
    obs = env.step()["obs"]
    assert obs.device.type == "cuda"
    q = torch.nn.Linear(4, 2).cuda()
    for policy in (Greedy(q=q), EpsilonGreedy(q=q, start=0.5, end=0.5)):
        action = policy.step(obs)["action"]
        assert action.device.type == "cuda" and action.shape == (3,)
        out = env.step(action)
        tr = out["transition"]
        assert all(t.device.type == "cuda" for t in tr.fields().values() if t is not None)
        obs = out["obs"]
    target = TargetNetwork(source=q, tau=0.5)
    target.step()
    assert all(p.device.type == "cuda" for p in target.module.parameters())
    env.close()


@needs_cuda
def test_a_graph_learns_on_cuda():
    graph = build(load(DQN, overrides=["device=cuda", *SHORT]), seed=1)
    with graph:
        graph.run(400)
        assert graph.value("env.obs").device.type == "cuda"
        assert graph.nodes["optim"].updates > 0
        assert all(p.device.type == "cuda"
                   for p in graph.value("qnet.module").parameters())


@needs_cuda
def test_exploration_is_the_same_on_cuda_as_on_the_cpu():
    torch.manual_seed(0)
    q = torch.nn.Linear(4, 2)
    obs = torch.randn(16, 4)
    actions = []
    for device in ("cpu", "cuda"):
        policy = EpsilonGreedy(seed=3, q=q.to(device), start=0.5, end=0.5)
        actions.append([policy.step(obs.to(device))["action"].cpu() for _ in range(20)])
    assert all(torch.equal(a, b) for a, b in zip(*actions))


# ---- threads ---------------------------------------------------------------------------
def test_configure_threads_defaults_to_one(monkeypatch):
    monkeypatch.delenv(THREADS_ENV, raising=False)
    assert configure_threads() == 1
    assert torch.get_num_threads() == 1


def test_configure_threads_reads_the_environment_and_an_argument_wins(monkeypatch):
    monkeypatch.setenv(THREADS_ENV, "2")
    assert configure_threads() == 2 and torch.get_num_threads() == 2
    assert configure_threads(1) == 1 and torch.get_num_threads() == 1


@pytest.mark.parametrize("value", ["zero", "0", "-3", "1.5"])
def test_configure_threads_rejects_a_bad_environment_value(monkeypatch, value):
    monkeypatch.setenv(THREADS_ENV, value)
    with pytest.raises(GraphErrors, match=f"{THREADS_ENV} must be a positive whole number"):
        configure_threads()
