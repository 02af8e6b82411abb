"""MLP, driven without a graph."""

from __future__ import annotations

import gymnasium as gym
import pytest
import torch
from torch import nn

from rlgraph.core import NodeConfigError
from rlgraph.nodes.data import EnvSpec
from rlgraph.nodes.nets import MLP


def linears(module: nn.Module) -> list[nn.Linear]:
    return [m for m in module.modules() if isinstance(m, nn.Linear)]


def test_sizes_come_from_the_env_spec(cartpole_spec):
    net = MLP(spec=cartpole_spec, hidden=[32, 16], activation="tanh").static_outputs["module"]
    assert [(l.in_features, l.out_features) for l in linears(net)] == [(4, 32), (32, 16),
                                                                       (16, 2)]
    assert sum(isinstance(m, nn.Tanh) for m in net.modules()) == 2
    assert net(torch.zeros(5, 4)).shape == (5, 2)


def test_image_like_observations_are_flattened():
    spec = EnvSpec("Grid", gym.spaces.Box(0, 1, (3, 5, 5)), gym.spaces.Discrete(4), 1)
    net = MLP(spec=spec, hidden=[8]).static_outputs["module"]
    assert linears(net)[0].in_features == 75
    assert net(torch.zeros(2, 3, 5, 5)).shape == (2, 4)


def test_same_seed_same_weights_and_global_rng_untouched(cartpole_spec):
    torch.manual_seed(0)
    expected_next = torch.rand(1)
    torch.manual_seed(0)
    a = MLP(spec=cartpole_spec, seed=3).static_outputs["module"]
    assert torch.equal(torch.rand(1), expected_next)
    b = MLP(spec=cartpole_spec, seed=3).static_outputs["module"]
    c = MLP(spec=cartpole_spec, seed=4).static_outputs["module"]
    assert torch.equal(linears(a)[0].weight, linears(b)[0].weight)
    assert not torch.equal(linears(a)[0].weight, linears(c)[0].weight)


def test_continuous_actions_are_a_located_config_error():
    spec = EnvSpec("Pendulum-v1", gym.spaces.Box(-1, 1, (3,)),
                   gym.spaces.Box(-2, 2, (1,)), 1)
    with pytest.raises(NodeConfigError, match="discrete actions") as info:
        MLP(spec=spec)
    assert info.value.port == "spec" and "Discrete" in info.value.hint


def test_non_positive_hidden_size_is_rejected(cartpole_spec):
    with pytest.raises(NodeConfigError, match="hidden"):
        MLP(spec=cartpole_spec, hidden=[64, 0])


def test_state_dict_restores_weights(cartpole_spec):
    a, b = MLP(spec=cartpole_spec, seed=1), MLP(spec=cartpole_spec, seed=2)
    b.load_state_dict(a.state_dict())
    x = torch.randn(3, 4)
    assert torch.equal(a.module(x), b.module(x))
