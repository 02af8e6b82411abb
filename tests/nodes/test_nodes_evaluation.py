"""EvalEpisodes, driven without a graph."""

from __future__ import annotations

import statistics

import pytest
import torch

from rlgraph.core import Clock
from rlgraph.nodes.evaluation import EvalEpisodes, greedy_returns


class Always(torch.nn.Module):
    """Q-values that always prefer one action."""

    def __init__(self, action: int) -> None:
        super().__init__()
        self.action = action

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        q = torch.zeros(obs.shape[0], 2)
        q[:, self.action] = 1.0
        return q


def test_each_evaluation_adds_a_row_of_greedy_returns(cartpole_spec):
    clock = Clock()
    node = EvalEpisodes(spec=cartpole_spec, q=Always(0), episodes=5, seed=3, clock=clock)
    clock.tick = 1000
    out = node.step()
    returns, lengths = greedy_returns(Always(0), "CartPole-v1", 5, seed=3)
    assert returns == lengths and all(8 <= r <= 15 for r in returns)  # pushing left falls
    assert out == {"return_mean": pytest.approx(statistics.fmean(returns))}
    assert node.rows == [{"tick": 1000, "env_steps": 1000, "episodes": 5,
                          "return_mean": pytest.approx(statistics.fmean(returns)),
                          "return_std": pytest.approx(statistics.pstdev(returns)),
                          "length_mean": pytest.approx(statistics.fmean(lengths))}]
    assert list(node.rows[0]) == list(EvalEpisodes.row_fields)
    assert node.report() == {"eval_return": out["return_mean"]}


def test_evaluations_use_fresh_seeds_and_leave_global_random_numbers_alone(cartpole_spec):
    node = EvalEpisodes(spec=cartpole_spec, q=Always(1), episodes=3, seed=7)
    before = torch.get_rng_state()
    node.step()
    node.step()
    assert torch.equal(torch.get_rng_state(), before)
    first, second = greedy_returns(Always(1), "CartPole-v1", 3, seed=7), \
        greedy_returns(Always(1), "CartPole-v1", 3, seed=10)
    assert [r["return_mean"] for r in node.rows] == pytest.approx(
        [statistics.fmean(first[0]), statistics.fmean(second[0])])


def test_an_unfinished_episode_counts_with_the_return_it_has():
    returns, lengths = greedy_returns(Always(0), "CartPole-v1", 2, seed=0, max_steps=3)
    assert returns == [3.0, 3.0] and lengths == [3, 3]


def test_state_dict_round_trip(cartpole_spec):
    a = EvalEpisodes(spec=cartpole_spec, q=Always(0), episodes=2, seed=1)
    a.step()
    b = EvalEpisodes(spec=cartpole_spec, q=Always(0), episodes=2, seed=1)
    b.load_state_dict(a.state_dict())
    assert b.rows == a.rows
    assert b.step() == a.step()  # the next evaluation uses the same seeds
