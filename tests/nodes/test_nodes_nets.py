"""MLP and DuelingMLP, driven without a graph."""

from __future__ import annotations

from copy import deepcopy

import gymnasium as gym
import pytest
import torch
from torch import nn

from rlgraph.core import NodeConfigError
from rlgraph.nodes.data import EnvSpec
from rlgraph.nodes.nets import MLP, DuelingMLP
from rlgraph.nodes.speedups import FastSequential as Stack


def linears(module: nn.Module) -> list[nn.Linear]:
    return [m for m in module.modules() if isinstance(m, nn.Linear)]


def test_sizes_come_from_the_env_spec(cartpole_spec):
    net = MLP(spec=cartpole_spec, hidden=[32, 16], activation="tanh").static_outputs["module"]
    assert [(x.in_features, x.out_features) for x in linears(net)] == [(4, 32), (32, 16),
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


def test_layer_norm_normalizes_each_hidden_layer_before_its_activation(cartpole_spec):
    node = MLP(spec=cartpole_spec, hidden=[6, 5], norm="layer", seed=2)
    net = node.static_outputs["module"]
    kinds = [type(m).__name__ for m in net][1:]  # after the Flatten
    assert kinds == ["Linear", "LayerNorm", "ReLU", "Linear", "LayerNorm", "ReLU", "Linear"]
    assert node.parameter_count(cartpole_spec) == sum(p.numel() for p in net.parameters())
    with torch.no_grad():  # gains and biases away from 1 and 0, so that both count
        for norm in (m for m in net if isinstance(m, nn.LayerNorm)):
            norm.weight.uniform_(0.5, 1.5)
            norm.bias.uniform_(-0.5, 0.5)
    lin1, norm1, _, lin2, norm2, _, lin3 = list(net)[1:]

    def normed(h: torch.Tensor, norm: nn.LayerNorm) -> torch.Tensor:
        mean = h.mean(dim=1, keepdim=True)
        var = ((h - mean) ** 2).mean(dim=1, keepdim=True)  # biased, as LayerNorm's
        return (h - mean) / torch.sqrt(var + 1e-5) * norm.weight + norm.bias

    x = torch.randn(7, 4)
    h = normed(x @ lin1.weight.T + lin1.bias, norm1).clamp(min=0)
    h = normed(h @ lin2.weight.T + lin2.bias, norm2).clamp(min=0)
    assert torch.allclose(net(x), h @ lin3.weight.T + lin3.bias, atol=1e-5)
    plain = MLP(spec=cartpole_spec, hidden=[6, 5], seed=2)  # norm 'none': no LayerNorm
    assert not any(isinstance(m, nn.LayerNorm) for m in plain.module.modules())
    assert plain.parameter_count(cartpole_spec) == node.parameter_count(cartpole_spec) - 22


def test_dueling_layer_norm_in_trunk_and_streams_and_counted(cartpole_spec):
    node = DuelingMLP(spec=cartpole_spec, hidden=[16], head_hidden=[8], norm="layer")
    module = node.static_outputs["module"]
    assert [sum(isinstance(m, nn.LayerNorm) for m in part.modules())
            for part in (module.trunk, module.value, module.advantage)] == [1, 1, 1]
    assert node.parameter_count(cartpole_spec) == sum(p.numel() for p in module.parameters())
    obs = torch.randn(3, 4)
    q, advantage = module(obs), module.advantage(module.trunk(obs))
    assert torch.allclose(q.mean(dim=1), module.value(module.trunk(obs)).squeeze(1),
                          atol=1e-6)
    assert advantage.shape == (3, 2)


def test_an_unknown_norm_is_a_config_error(cartpole_spec):
    with pytest.raises(NodeConfigError, match="norm"):
        MLP(spec=cartpole_spec, norm="batch")


def test_dueling_q_is_value_plus_centred_advantage(cartpole_spec):
    net = DuelingMLP(spec=cartpole_spec, hidden=[16], head_hidden=[8], seed=3)
    module = net.static_outputs["module"]
    obs = torch.randn(5, 4)
    q = module(obs)
    features = module.trunk(obs)
    value, advantage = module.value(features), module.advantage(features)
    assert q.shape == (5, 2) and value.shape == (5, 1)
    assert torch.allclose(q, value + advantage - advantage.mean(dim=1, keepdim=True))
    assert torch.allclose(q.mean(dim=1), value.squeeze(1), atol=1e-6)  # V = mean_a Q
    # streams: 16 -> 8 -> 1 and 16 -> 8 -> 2 over a 4 -> 16 trunk
    shapes = [tuple(p.shape) for p in module.parameters()]
    assert shapes == [(16, 4), (16,), (8, 16), (8,), (1, 8), (1,), (8, 16), (8,), (2, 8), (2,)]


def test_dueling_same_seed_same_weights_and_state_round_trip(cartpole_spec):
    a, b, c = (DuelingMLP(spec=cartpole_spec, hidden=[8], seed=s) for s in (1, 1, 2))
    pa, pb, pc = (list(n.static_outputs["module"].parameters()) for n in (a, b, c))
    assert all(torch.equal(x, y) for x, y in zip(pa, pb))
    assert not all(torch.equal(x, y) for x, y in zip(pa, pc))
    c.load_state_dict(a.state_dict())
    obs = torch.randn(3, 4)
    assert torch.equal(a.static_outputs["module"](obs), c.static_outputs["module"](obs))


def test_dueling_rejects_an_empty_trunk(cartpole_spec):
    with pytest.raises(NodeConfigError, match="at least 1 item"):
        DuelingMLP(spec=cartpole_spec, hidden=[])


def test_stack_computes_what_nn_sequential_computes_and_follows_its_children():
    torch.manual_seed(0)
    children = [nn.Flatten(start_dim=1), nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3),
                nn.Tanh(), nn.LayerNorm(3)]
    stack, plain = Stack(*children), nn.Sequential(*children)
    x = torch.randn(4, 2, 3)
    assert torch.equal(stack(x), plain(x))
    with torch.no_grad():  # an optimizer writes in place: the plan sees the new weights
        children[1].weight.add_(1.0)
    assert torch.equal(stack(x), plain(x))
    stack[3] = plain[3] = nn.Linear(8, 3)  # a replaced child is used from then on
    stack.append(nn.Sigmoid())
    plain.append(stack[-1])
    assert torch.equal(stack(x), plain(x))
    row = x[:1]  # one env acting: the linear layers take the row as a vector
    assert stack(row).shape == (1, 3)
    assert torch.allclose(stack(row), plain(row), atol=1e-6)
    stack(row).sum().backward()  # and gradients flow through the vector path
    grad = children[1].weight.grad.clone()
    children[1].weight.grad = None
    plain(row).sum().backward()
    assert torch.allclose(grad, children[1].weight.grad, atol=1e-6)
    children[1].weight.grad = None
    # acting (inference mode) sees every update, also a fused optimizer's, which
    # writes the weights without moving their version counters
    adam = torch.optim.Adam(stack.parameters(), lr=0.1, fused=True)
    stack(x).sum().backward()
    with torch.inference_mode():
        before = stack(x)
        adam.step()
        assert torch.equal(stack(x), plain(x)) and not torch.allclose(stack(x), before)
    copy = deepcopy(stack)  # a target network's copy computes with its own weights
    with torch.no_grad():
        copy[1].weight.zero_()
    assert not torch.equal(copy(x), stack(x))
    assert torch.equal(copy(x), nn.Sequential(*copy)(x))


def test_stack_activations_in_place_give_the_same_gradients_and_leave_inputs_alone():
    """An activation right after a linear layer runs in place on the layer's output: the
    gradients are nn.Sequential's; one that is not (first here) never writes the input."""
    torch.manual_seed(0)
    children = [nn.Tanh(), nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 16), nn.Tanh(),
                nn.Linear(16, 1)]
    stack, plain = Stack(*children), nn.Sequential(*children)
    x = torch.randn(32, 5)
    kept = x.clone()
    grads = []
    for net in (stack, plain):
        out = net(x)
        grads.append(torch.autograd.grad(out.square().sum(), list(net.parameters())))
    assert torch.equal(x, kept)
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(*grads))
    x.requires_grad_(True)  # and the input's own gradient, through the first tanh
    assert torch.allclose(torch.autograd.grad(stack(x).sum(), x)[0],
                          torch.autograd.grad(plain(x).sum(), x)[0], atol=1e-6)


def test_stack_calls_a_linear_whose_weight_is_computed():
    """A Linear parametrized after the Stack's first forward (weight norm here) has no
    plain weight any more: the Stack calls it as a module."""
    torch.manual_seed(0)
    stack = Stack(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    x = torch.randn(3, 4)
    stack(x)
    torch.nn.utils.parametrizations.weight_norm(stack[0])
    with torch.no_grad():
        stack[0].parametrizations.weight.original0.mul_(2.0)  # the norm g doubles
    expected = stack[2](torch.relu(stack[0](x)))
    assert torch.allclose(stack(x), expected) and torch.allclose(stack(x[:1]), expected[:1])
