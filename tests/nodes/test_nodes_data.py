"""Records that grow (transitions, batches), and env specs of Discrete and Box spaces."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from rlgraph.core import NodeConfigError
from rlgraph.nodes import Batch, EnvSpec, GymEnv, NStep, ReplayBuffer, Transition


def one_step(rows: list[float], **extra: torch.Tensor) -> Transition:
    t = torch.tensor(rows)
    return Transition(obs=t[:, None], action=torch.zeros(len(rows), dtype=torch.int64),
                      reward=t, next_obs=t[:, None] + 1,
                      terminated=torch.zeros(len(rows), dtype=torch.bool),
                      truncated=torch.zeros(len(rows), dtype=torch.bool), **extra)


def test_a_node_adds_fields_without_a_new_class():
    t = one_step([1.0, 2.0])
    assert t.steps is None  # documented optional fields read as None
    with pytest.raises(AttributeError, match="log_prob"):
        t.log_prob  # noqa: B018 - a field nobody added is an error, not a silent None
    grown = t.replace(log_prob=torch.tensor([-0.5, -0.75]))
    assert type(grown) is Transition and grown.log_prob.tolist() == [-0.5, -0.75]
    assert not hasattr(t, "log_prob")  # the record on the wire is untouched
    assert grown.present() == ("obs", "action", "reward", "next_obs", "terminated",
                               "truncated", "log_prob")
    assert grown.get("value") is None and grown.get("log_prob") is grown.log_prob


def test_rows_and_concat_keep_every_field():
    batch = Batch(**one_step([1.0, 2.0, 3.0]).fields(), indices=torch.tensor([7, 8, 9]),
                  value=torch.tensor([0.5, 0.25, 0.125]))
    picked = batch.rows(torch.tensor([2, 0]))
    assert picked.indices.tolist() == [9, 7] and picked.value.tolist() == [0.125, 0.5]
    assert picked.weights is None
    both = Batch.concat([picked, batch.rows(slice(1, 2))])
    assert both.reward.tolist() == [3.0, 1.0, 2.0]
    assert both.value.tolist() == [0.125, 0.5, 0.25]


def test_replay_stores_and_samples_the_fields_nodes_added():
    replay = ReplayBuffer(capacity=4)
    memory = replay.static_outputs["buffer"]
    replay.step(one_step([1.0, 2.0], log_prob=torch.tensor([-1.0, -2.0])))
    replay.step(one_step([3.0], log_prob=torch.tensor([-3.0])))
    batch = memory.gather(torch.tensor([2, 0]))
    assert batch.log_prob.tolist() == [-3.0, -1.0] and batch.reward.tolist() == [3.0, 1.0]
    with pytest.raises(NodeConfigError, match=r"fields .* differ from those stored") as info:
        replay.step(one_step([4.0]))  # the same buffer without the log_prob
    assert info.value.node == replay.name
    with pytest.raises(NodeConfigError, match="holds a list, not a tensor"):
        ReplayBuffer(capacity=4).step(one_step([1.0], note=["x"]))


def test_n_step_transitions_carry_the_first_steps_extra_fields():
    nstep = NStep(n=2)
    nstep.step(one_step([1.0], value=torch.tensor([10.0])))
    out = nstep.step(one_step([2.0], value=torch.tensor([20.0])))["transition"]
    assert out.reward.tolist() == [[1.0, 2.0]] and out.value.tolist() == [10.0]
    assert out.obs.tolist() == [[1.0]] and out.next_obs.tolist() == [[3.0]]


def test_env_spec_describes_box_and_discrete_actions():
    pendulum = gym.make("Pendulum-v1")
    box = EnvSpec("Pendulum-v1", pendulum.observation_space, pendulum.action_space, 1)
    pendulum.close()
    assert box.continuous and not box.discrete and box.n_actions is None
    assert box.action_shape == (1,) and box.action_size == 1
    assert box.action_low.tolist() == [-2.0] and box.action_high.tolist() == [2.0]
    assert box.action_low.dtype == np.float32
    assert box.describe_actions() == "Box(1,) in [-2, 2]"
    cart = gym.make("CartPole-v1")
    disc = EnvSpec("CartPole-v1", cart.observation_space, cart.action_space, 1)
    cart.close()
    assert disc.discrete and disc.n_actions == 2 and disc.action_shape == ()
    assert disc.action_low is None and disc.describe_actions() == "Discrete(2)"


def test_box_actions_are_clipped_at_the_env_and_stored_as_chosen():
    env = GymEnv(seed=0, id="Pendulum-v1", num_envs=2)
    twin = gym.make("Pendulum-v1")  # the same env, stepped with the clipped action
    obs = env.step()["obs"]
    twin_obs, _ = twin.reset(seed=0)
    assert np.allclose(obs[0].numpy(), twin_obs)
    action = torch.tensor([[5.0], [-0.5]])  # 5 is outside [-2, 2]
    out = env.step(action)
    expected, reward, *_ = twin.step(np.array([2.0], dtype=np.float32))
    assert np.allclose(out["obs"][0].numpy(), expected)
    assert out["transition"].reward[0].item() == pytest.approx(reward)
    assert out["transition"].action.tolist() == [[5.0], [-0.5]]  # unclipped
    assert out["transition"].action.dtype == torch.float32
    env.close()
    twin.close()
