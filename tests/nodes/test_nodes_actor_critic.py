"""Actor-critic networks and the sampling policy, driven without a graph."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.distributions import Categorical, Normal

from rlgraph.core import NodeConfigError
from rlgraph.nodes import ActorCriticMLP, SamplingPolicy, SharedActorCriticMLP


def test_discrete_heads_compute_what_a_categorical_distribution_does(cartpole_spec):
    net = ActorCriticMLP(spec=cartpole_spec, seed=3).static_outputs["module"]
    obs = torch.randn(5, 4)
    action = torch.tensor([0, 1, 1, 0, 1])
    log_prob, entropy, value = net.evaluate(obs, action)
    logits, values = net(obs)
    dist = Categorical(logits=logits)
    assert torch.allclose(log_prob, dist.log_prob(action), atol=1e-6)
    assert torch.allclose(entropy, dist.entropy(), atol=1e-6)
    assert torch.equal(value, values) and value.shape == (5,)
    assert torch.equal(net.mode(obs), logits.argmax(dim=1))
    sampled, sampled_log_prob, _ = net.act(obs, torch.Generator().manual_seed(0))
    assert torch.allclose(sampled_log_prob, dist.log_prob(sampled), atol=1e-6)


def test_gaussian_heads_compute_what_a_normal_distribution_does(pendulum_spec):
    net = ActorCriticMLP(spec=pendulum_spec, seed=3, log_std=-0.5).static_outputs["module"]
    assert net.log_std.tolist() == [-0.5] and net.log_std.requires_grad
    obs = torch.randn(6, 3)
    action = torch.randn(6, 1)
    log_prob, entropy, _ = net.evaluate(obs, action)
    mean, _ = net(obs)
    dist = Normal(mean, torch.full_like(mean, math.exp(-0.5)))
    assert torch.allclose(log_prob, dist.log_prob(action).sum(-1), atol=1e-5)
    assert torch.allclose(entropy, dist.entropy().sum(-1), atol=1e-5)
    assert net.mode(obs).shape == (6, 1) and torch.equal(net.mode(obs), mean)
    sampled, sampled_log_prob, _ = net.act(obs, torch.Generator().manual_seed(0))
    assert sampled.shape == (6, 1)
    assert torch.allclose(sampled_log_prob, dist.log_prob(sampled).sum(-1), atol=1e-5)


def test_orthogonal_initialization_as_cleanrl(cartpole_spec):
    net = ActorCriticMLP(spec=cartpole_spec, hidden=[64, 64], seed=1).static_outputs["module"]
    linears = [m for m in net.actor if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(4, 64), (64, 64), (64, 2)]
    hidden = linears[1].weight
    # an orthogonal matrix of gain sqrt 2: W W^T = 2 I
    assert torch.allclose(hidden @ hidden.T, 2 * torch.eye(64), atol=1e-4)
    out = linears[-1].weight
    assert torch.allclose(out @ out.T, 0.01 ** 2 * torch.eye(2), atol=1e-7)
    critic_out = [m for m in net.critic if isinstance(m, nn.Linear)][-1].weight
    assert torch.allclose(critic_out.norm(), torch.tensor(1.0), atol=1e-5)
    assert all(not m.bias.detach().any() for m in linears)
    again = ActorCriticMLP(spec=cartpole_spec, hidden=[64, 64], seed=1).static_outputs["module"]
    assert all(torch.equal(a, b) for a, b in zip(net.parameters(), again.parameters()))


def test_a_shared_trunk_feeds_both_heads(pendulum_spec):
    net = SharedActorCriticMLP(spec=pendulum_spec, hidden=[32]).static_outputs["module"]
    names = {name for name, _ in net.named_parameters()}
    assert names == {"log_std", "trunk.1.weight", "trunk.1.bias", "actor.weight",
                     "actor.bias", "critic.weight", "critic.bias"}
    mean, value = net(torch.randn(2, 3))
    assert mean.shape == (2, 1) and value.shape == (2,)


def test_non_discrete_non_box_actions_are_a_config_error():
    import gymnasium as gym

    from rlgraph.nodes import EnvSpec
    spec = EnvSpec("x", gym.spaces.Box(-1, 1, (3,)), gym.spaces.MultiBinary(2), 1)
    with pytest.raises(NodeConfigError, match="Discrete or Box action spaces"):
        ActorCriticMLP(spec=spec)


def test_the_policy_samples_reproducibly_and_acts_by_the_mode_without_a_draw(pendulum_spec):
    net = ActorCriticMLP(spec=pendulum_spec, seed=2).static_outputs["module"]
    obs = torch.randn(4, 3)
    a, b = SamplingPolicy(module=net, seed=9), SamplingPolicy(module=net, seed=9)
    first = a.step(obs)
    assert first["action"].shape == (4, 1) and first["log_prob"].shape == (4,)
    assert first["value"].shape == (4,) and not first["action"].requires_grad
    state = a.generator.get_state()
    assert torch.equal(a.act(obs)["action"], net.mode(obs))
    assert torch.equal(a.generator.get_state(), state)  # evaluation draws nothing
    assert torch.equal(b.step(obs)["action"], first["action"])
    b.load_state_dict(a.state_dict())
    assert torch.equal(a.step(obs)["action"], b.step(obs)["action"])
