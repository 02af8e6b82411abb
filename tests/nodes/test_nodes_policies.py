"""EpsilonGreedy, Greedy and the epsilon schedules, driven without a graph."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from rlgraph.core import NodeConfigError
from rlgraph.nodes.data import Episodes
from rlgraph.nodes.policies import EpsilonGreedy, Greedy, exponential_schedule, linear_schedule


def one_hot(states: list[int], n: int = 3) -> torch.Tensor:
    return torch.eye(n)[states]


@pytest.fixture
def q(table_q):
    # state 0 prefers action 1, state 1 action 0, state 2 action 2
    return table_q([[0.0, 1.0, 0.5], [2.0, -1.0, 0.0], [0.0, 0.0, 3.0]])


def test_linear_schedule_reference_values():
    assert linear_schedule(1.0, 0.1, 100, 0) == 1.0
    assert linear_schedule(1.0, 0.1, 100, 50) == pytest.approx(0.55)
    assert linear_schedule(1.0, 0.1, 100, 100) == pytest.approx(0.1)
    assert linear_schedule(1.0, 0.1, 100, 10_000) == pytest.approx(0.1)


def test_exponential_schedule_reference_values():
    assert exponential_schedule(0.9, 0.05, 1000, 0) == pytest.approx(0.9)
    assert exponential_schedule(0.9, 0.05, 1000, 1000) == pytest.approx(
        0.05 + 0.85 / math.e)
    assert exponential_schedule(0.9, 0.05, 1000, 100_000) == pytest.approx(0.05)


def test_greedy_picks_the_argmax_without_gradient(q):
    out = Greedy(q=q).step(one_hot([0, 1, 2, 0]))
    assert out["action"].tolist() == [1, 0, 2, 1]
    assert not out["action"].requires_grad


def test_epsilon_decays_over_ticks_by_default_whatever_the_number_of_envs(q):
    from rlgraph.core import Clock
    clock = Clock()
    policy = EpsilonGreedy(q=q, start=1.0, end=0.1, decay_steps=10, clock=clock)
    eps = []
    for tick in range(4):
        clock.tick = 3 * tick
        eps.append(policy.step(one_hot([0, 1, 2]))["epsilon"])
    assert eps == pytest.approx([linear_schedule(1.0, 0.1, 10, 3 * k) for k in range(4)])


def test_epsilon_decays_over_env_steps_of_all_envs(q):
    policy = EpsilonGreedy(q=q, start=1.0, end=0.1, decay_steps=10, unit="env_steps")
    eps = [policy.step(one_hot([0, 1]))["epsilon"] for _ in range(8)]
    # two envs: the schedule advances by two env steps per firing
    assert eps == pytest.approx([linear_schedule(1.0, 0.1, 10, 2 * k) for k in range(8)])
    assert eps[-1] == pytest.approx(0.1)


def test_exponential_epsilon_follows_its_schedule(q):
    policy = EpsilonGreedy(q=q, start=1.0, end=0.0, decay_steps=5, schedule="exponential",
                           unit="env_steps")
    eps = [policy.step(one_hot([0]))["epsilon"] for _ in range(4)]
    assert eps == pytest.approx([math.exp(-k / 5) for k in range(4)])


def test_episode_unit_reproduces_the_notebook_schedule(q):
    """The seed notebook: epsilon = max(0.01, 0.08 - 0.01 * (n_epi / 200))."""
    policy = EpsilonGreedy(q=q, start=0.08, end=0.01, decay_steps=1400, unit="episodes")
    obs = one_hot([0])
    ended = Episodes(returns=[10.0], lengths=[10], env_index=[0], env_steps=0)
    for n_epi in range(2000):
        for _ in range(3):  # steps inside an episode leave epsilon alone
            assert policy.step(obs)["epsilon"] == pytest.approx(
                max(0.01, 0.08 - 0.01 * (n_epi / 200)))
        policy.step(obs, episode_end=ended)  # the first step of episode n_epi + 1


def test_zero_epsilon_is_greedy_and_full_epsilon_is_uniform(q):
    obs = one_hot([0] * 3000)
    greedy = EpsilonGreedy(q=q, start=0.0, end=0.0).step(obs)["action"]
    assert (greedy == 1).all()
    random = EpsilonGreedy(q=q, start=1.0, end=1.0).step(obs)["action"]
    counts = torch.bincount(random, minlength=3).float() / len(random)
    assert torch.allclose(counts, torch.full((3,), 1 / 3), atol=0.04)


def test_partial_epsilon_explores_about_that_often(q):
    policy = EpsilonGreedy(q=q, start=0.3, end=0.3)
    actions = policy.step(one_hot([0] * 5000))["action"]
    # a random action is the greedy one a third of the time: 0.3 * 2/3 differ
    assert (actions != 1).float().mean().item() == pytest.approx(0.2, abs=0.03)


def test_same_seed_same_actions(q):
    obs = one_hot([0, 1, 2] * 50)
    runs = [EpsilonGreedy(q=q, seed=s, start=0.5, end=0.5).step(obs)["action"]
            for s in (4, 4, 5)]
    assert torch.equal(runs[0], runs[1]) and not torch.equal(runs[0], runs[2])


def test_state_dict_resumes_schedule_and_random_stream(q):
    obs = one_hot([0, 1, 2] * 10)
    policy = EpsilonGreedy(q=q, seed=1, start=1.0, end=0.2, decay_steps=100)
    policy.step(obs)
    saved = policy.state_dict()
    a = policy.step(obs)
    other = EpsilonGreedy(q=q, seed=2, start=1.0, end=0.2, decay_steps=100)
    other.load_state_dict(saved)
    b = other.step(obs)
    assert a["epsilon"] == b["epsilon"] and torch.equal(a["action"], b["action"])


def test_bad_schedule_name_is_rejected(q):
    with pytest.raises(NodeConfigError, match="schedule"):
        EpsilonGreedy(q=q, schedule="cosine")


@pytest.mark.parametrize("eps", [0.0, 0.05, 0.3, 1.0])
def test_epsilon_greedy_acts_as_the_plain_formula_with_the_same_draws(q, eps):
    """Each firing draws one uniform number per env from the node's numpy generator;
    the envs whose draw is below epsilon then draw their random actions, in env order.
    The others act greedily."""
    policy = EpsilonGreedy(seed=11, q=q, start=eps, end=eps)
    reference = np.random.default_rng(11)
    states = one_hot([0, 1, 2, 0, 1, 2, 0, 1])
    greedy = q(states).argmax(dim=1).numpy()
    explored = 0
    for _ in range(50):
        explore = reference.random(8) < eps
        expected = greedy.copy()
        expected[explore] = reference.integers(3, size=int(explore.sum()))
        explored += int(explore.sum())
        assert policy.step(states)["action"].tolist() == expected.tolist()
    assert (explored > 0) == (eps > 0)  # the exploring path was taken when it could be
