"""NormalizeObs and NormalizeReward, driven without a graph, against numpy statistics."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rlgraph.nodes import NormalizeObs, NormalizeReward, Transition


def step_of(obs, next_obs, reward=(1.0, 2.0), done=(False, False)) -> Transition:
    flags = torch.tensor(done)
    return Transition(obs=torch.tensor(obs), action=torch.zeros(2, dtype=torch.int64),
                      reward=torch.tensor(reward), next_obs=torch.tensor(next_obs),
                      terminated=flags, truncated=torch.zeros(2, dtype=torch.bool))


def test_observations_are_normalized_by_everything_seen_so_far():
    node = NormalizeObs(clip=5.0)
    seen = []
    rng = np.random.default_rng(0)
    for _ in range(20):
        obs = rng.normal(3.0, 2.0, size=(2, 3)).astype(np.float32)
        seen.append(obs)
        out = node.step(torch.from_numpy(obs))["obs"]
    everything = np.concatenate(seen)
    # gymnasium's RunningMeanStd starts from a count of 1e-4 (mean 0, var 1): negligible
    expected = (seen[-1] - everything.mean(0)) / np.sqrt(everything.var(0) + 1e-8)
    assert out.numpy() == pytest.approx(np.clip(expected, -5, 5), abs=1e-4)
    assert out.dtype == torch.float32
    before = node.stats.mean.clone()
    assert torch.equal(node.act(torch.from_numpy(seen[-1]))["obs"], out)
    assert torch.equal(node.stats.mean, before)  # evaluation updates nothing


def test_transitions_carry_the_observations_the_policy_saw():
    node = NormalizeObs()
    first = node.step(torch.tensor([[1.0], [2.0]]))["obs"]
    out = node.step(torch.tensor([[3.0], [4.0]]),
                    step_of([[1.0], [2.0]], [[3.0], [4.0]]))
    assert torch.equal(out["transition"].obs, first)  # as emitted the tick before
    assert torch.equal(out["transition"].next_obs, out["obs"])  # current statistics
    twin = NormalizeObs()
    twin.load_state_dict(node.state_dict())
    assert torch.equal(twin.act(torch.tensor([[5.0], [6.0]]))["obs"],
                       node.act(torch.tensor([[5.0], [6.0]]))["obs"])


def test_rewards_are_scaled_by_the_spread_of_discounted_returns():
    node = NormalizeReward(gamma=0.5, clip=100.0)
    rewards = [(1.0, 2.0), (1.0, 2.0), (1.0, 2.0)]
    done = [(False, False), (True, False), (False, False)]
    returns, history = np.zeros(2), []
    for r, d in zip(rewards, done):
        out = node.step(step_of([[0.0], [0.0]], [[0.0], [0.0]], r, d))["transition"]
        returns = returns * 0.5 + np.array(r)
        history.extend(returns.tolist())
        returns[np.array(d)] = 0.0
    variance = np.var(history)  # (with a 1e-4 prior count, as gymnasium)
    assert out.reward.numpy() == pytest.approx(np.array(rewards[-1]) / np.sqrt(variance),
                                               rel=1e-3)
