"""The PPO graphs: they learn, their rollouts are on-policy, and they resume exactly."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from test_graphs_learning import assert_resumes_exactly

from rlgraph.core import build, load
from rlgraph.workflow.evaluate import evaluate_graph

GRAPHS = Path(__file__).resolve().parent.parent / "graphs"


def test_ppo_cartpole_learns_in_a_short_run():
    """3,000 ticks of 8 envs (24k env steps, the schedules annealed over them): the
    deterministic policy at the end balances far longer than a random one (~22)."""
    with build(load(GRAPHS / "ppo_cartpole.yaml", overrides=["steps=3000"])) as graph:
        graph.run(3000)
        result = evaluate_graph(graph, episodes=10, seed=4321)
    assert result.mode == "deterministic" and result.mean >= 150, result.returns


def test_every_rollout_comes_from_one_policy_the_one_after_the_last_update():
    """The policy acts after the update (order: {after: [sample]}), so the log-probs a
    rollout stored are exactly those of the network as it is when the rollout is
    complete, before this tick's update."""
    graph = build(load(GRAPHS / "ppo_cartpole.yaml"))
    net = graph.value("net.module")
    gaps = []
    step = graph.nodes["gae"].step

    def check(rollout):
        with torch.no_grad():
            flat = rollout.flat()
            log_prob, _, value = net.evaluate(flat.obs, flat.action)
        gaps.append(float((log_prob - flat.log_prob).abs().max()))
        gaps.append(float((value - flat.value).abs().max()))
        return step(rollout=rollout)

    graph.replace_step("gae", check)
    with graph:
        graph.run(32 * 4 + 1)
    assert len(gaps) == 8 and max(gaps) < 1e-5, gaps


def test_ppo_checkpoint_resumes_exactly_mid_rollout():
    rows = assert_resumes_exactly(GRAPHS / "ppo_cartpole.yaml", ("rollout.steps=16",),
                                  first=100, then=120, module="net.module")
    assert len(rows) > 10


def test_ppo_pendulum_resumes_exactly_with_gaussian_actions():
    rows = assert_resumes_exactly(GRAPHS / "ppo_pendulum.yaml",
                                  ("rollout.steps=64", "sample.repeat=8",
                                   "sample.epochs=2", "sample.minibatches=4"),
                                  first=300, then=300, module="net.module")
    assert len(rows) >= 8  # 200-step episodes of 4 envs


def test_ppo_halfcheetah_builds_normalizes_and_steps():
    """The MuJoCo graph (`pip install -e ".[mujoco]"`; CI installs it): a few ticks, the
    learner's observations normalized and its rewards scaled."""
    pytest.importorskip("mujoco", reason="MuJoCo is the optional extra .[mujoco]")
    with build(load(GRAPHS / "ppo_halfcheetah.yaml",
                    overrides=["rollout.steps=16", "sample.repeat=2", "sample.epochs=1",
                               "sample.minibatches=2"])) as graph:
        graph.run(40)
        norm = graph.nodes["norm"]
        assert norm.stats is not None and norm.stats.mean.shape == (17,)
        assert graph.nodes["optim"].updates == 4  # two rollouts, two minibatches each
        obs = graph.value("norm.obs")
        assert obs.shape == (1, 17) and float(obs.abs().max()) <= 10.0
