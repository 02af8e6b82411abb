"""Continuous-control networks and nodes (SAC, TD3), driven without a graph, against
torch's own distributions and numbers computed by hand."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.distributions import Normal, TanhTransform, TransformedDistribution

from rlgraph.core import NodeConfigError
from rlgraph.nodes import (
    Batch,
    DeterministicActor,
    NoisyActorPolicy,
    SACActorLoss,
    SACCriticLoss,
    SACPolicy,
    SquashedGaussianActor,
    TD3ActorLoss,
    TD3CriticLoss,
    Temperature,
    TemperatureLoss,
    TwinQNetwork,
    UniformWarmup,
)
from rlgraph.nodes.continuous import LogAlpha


def test_the_squashed_gaussian_log_prob_is_torchs_and_stays_finite(pendulum_spec):
    actor = SquashedGaussianActor(spec=pendulum_spec, hidden=[16], seed=0)
    net = actor.static_outputs["module"]
    obs = torch.randn(8, 3)
    action, log_prob = net.sample(obs, torch.Generator().manual_seed(1))
    mean, log_std = net(obs)
    squashed = (action / 2.0).clamp(-1 + 1e-6, 1 - 1e-6)  # Pendulum's bounds: [-2, 2]
    dist = TransformedDistribution(Normal(mean, log_std.exp()), [TanhTransform()])
    assert torch.allclose(log_prob, dist.log_prob(squashed).sum(-1), atol=1e-3)
    assert float(action.detach().abs().max()) <= 2.0
    assert torch.equal(net.mode(obs), 2.0 * torch.tanh(mean))
    # acting draws the action sample draws, from the same generator state, and no more
    acting, sampling = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    assert torch.equal(net.act(obs, acting), net.sample(obs, sampling)[0])
    assert torch.equal(acting.get_state(), sampling.get_state())
    with torch.no_grad():  # a saturating mean: tanh(u) == 1 in float32
        net.mean.bias.fill_(40.0)
    obs.requires_grad_(True)
    _, log_prob = net.sample(obs, torch.Generator().manual_seed(1))
    log_prob.sum().backward()
    assert torch.isfinite(log_prob).all() and torch.isfinite(obs.grad).all()


def test_networks_take_their_sizes_from_a_box_spec(pendulum_spec, cartpole_spec):
    critic = TwinQNetwork(spec=pendulum_spec, hidden=[32]).static_outputs["module"]
    q1, q2 = critic(torch.randn(5, 3), torch.randn(5, 1))
    assert q1.shape == q2.shape == (5,) and not torch.equal(q1, q2)  # two networks
    assert torch.equal(critic.q1(torch.zeros(2, 3), torch.zeros(2, 1)),
                       critic(torch.zeros(2, 3), torch.zeros(2, 1))[0])
    actor = DeterministicActor(spec=pendulum_spec, hidden=[32]).static_outputs["module"]
    assert actor(torch.randn(4, 3)).shape == (4, 1)
    with pytest.raises(NodeConfigError, match="is for Box"):
        TwinQNetwork(spec=cartpole_spec)
    alpha = Temperature(spec=pendulum_spec, init=0.5).static_outputs["module"]
    assert alpha.target_entropy == -1.0 and alpha().item() == pytest.approx(0.5)


class Const(nn.Module):
    """A stand-in network with known outputs (and a weight to differentiate)."""

    def __init__(self, values: list[float]) -> None:
        super().__init__()
        self.values = torch.tensor(values)
        self.w = nn.Parameter(torch.tensor(1.0))


class StubCritic(Const):
    def forward(self, obs, action):
        return self.w * self.values, self.w * (self.values + 1.0)

    def q1(self, obs, action):
        return self.forward(obs, action)[0]


class StubActor(Const):
    def sample(self, obs, generator=None):
        return torch.zeros(obs.shape[0], 1) + self.w, self.w * torch.tensor([-0.5, -1.0])


def batch() -> Batch:
    return Batch(obs=torch.zeros(2, 3), action=torch.zeros(2, 1), reward=torch.tensor([1.0, 2.0]),
                 next_obs=torch.zeros(2, 3), terminated=torch.tensor([False, True]),
                 truncated=torch.tensor([False, False]))


def test_the_sac_critic_loss_by_hand():
    critic, target = StubCritic([3.0, 4.0]), StubCritic([10.0, 20.0])
    alpha = LogAlpha(0.2, -1.0)
    loss = SACCriticLoss(critic=critic, target_critic=target, actor=StubActor([0.0, 0.0]),
                         temperature=alpha, gamma=0.9).step(batch())["loss"]
    # min target Q = (10, 20); minus alpha * log pi = (10 + 0.1, 20 + 0.2); row 2 ends
    y = torch.tensor([1.0 + 0.9 * (10.0 + 0.2 * 0.5), 2.0])
    q1, q2 = torch.tensor([3.0, 4.0]), torch.tensor([4.0, 5.0])
    expected = 0.5 * (((q1 - y) ** 2).mean() + ((q2 - y) ** 2).mean())
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)
    loss.backward()
    assert critic.w.grad is not None and target.w.grad is None


def test_the_sac_actor_and_temperature_losses_by_hand():
    actor, critic = StubActor([0.0, 0.0]), StubCritic([3.0, 4.0])
    alpha = LogAlpha(0.2, -1.0)
    out = SACActorLoss(actor=actor, critic=critic, temperature=alpha).step(batch())
    expected = (0.2 * torch.tensor([-0.5, -1.0]) - torch.tensor([3.0, 4.0])).mean()
    assert out["loss"].item() == pytest.approx(expected.item(), rel=1e-6)
    assert not out["log_prob"].requires_grad
    temperature = TemperatureLoss(temperature=alpha).step(out["log_prob"])["loss"]
    # -log_alpha * mean(log_prob + target): log(0.2) * (-0.75 - 1) negated
    assert temperature.item() == pytest.approx(math.log(0.2) * 1.75, rel=1e-6)
    temperature.backward()
    assert alpha.log_alpha.grad.item() == pytest.approx(1.75)  # alpha goes down


def test_the_td3_losses_by_hand(pendulum_spec):
    critic, target = StubCritic([3.0, 4.0]), StubCritic([10.0, 20.0])
    target_actor = DeterministicActor(spec=pendulum_spec, hidden=[8]).static_outputs["module"]
    loss = TD3CriticLoss(critic=critic, target_critic=target, target_actor=target_actor,
                         gamma=0.5, policy_noise=0.0).step(batch())["loss"]
    y = torch.tensor([1.0 + 0.5 * 10.0, 2.0])  # min of the twins; the second row ended
    expected = ((torch.tensor([3.0, 4.0]) - y) ** 2).mean() + \
        ((torch.tensor([4.0, 5.0]) - y) ** 2).mean()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)
    actor = DeterministicActor(spec=pendulum_spec, hidden=[8]).static_outputs["module"]
    out = TD3ActorLoss(actor=actor, critic=critic).step(batch())["loss"]
    assert out.item() == pytest.approx(-3.5)


def test_policies_explore_within_the_bounds_and_act_deterministically(pendulum_spec):
    actor = DeterministicActor(spec=pendulum_spec, hidden=[8]).static_outputs["module"]
    noisy = NoisyActorPolicy(actor=actor, noise=5.0, seed=1)
    obs = torch.randn(64, 3)
    explored = noisy.step(obs)["action"]
    assert float(explored.abs().max()) <= 2.0 and not torch.allclose(explored, actor(obs))
    assert torch.equal(noisy.act(obs)["action"], actor(obs))
    sac = SquashedGaussianActor(spec=pendulum_spec, hidden=[8]).static_outputs["module"]
    policy = SACPolicy(actor=sac, seed=3)
    state = policy.generator.get_state()
    assert torch.equal(policy.act(obs)["action"], sac.mode(obs))
    assert torch.equal(policy.generator.get_state(), state)


def test_the_warmup_samples_until_the_policy_speaks(pendulum_spec):
    warmup = UniformWarmup(spec=pendulum_spec, seed=4)
    random = [warmup.step()["action"] for _ in range(50)]
    assert all(a.shape == (1, 1) and float(a.abs().max()) <= 2.0 for a in random)
    assert len({round(float(a), 6) for a in random}) == 50
    chosen = torch.tensor([[0.5]])
    assert warmup.step(chosen)["action"] is chosen
    assert warmup.act(chosen)["action"] is chosen and warmup.report() == {"random_ticks": 50}
    again = UniformWarmup(spec=pendulum_spec, seed=4)
    again.load_state_dict(UniformWarmup(spec=pendulum_spec, seed=4).state_dict())
    assert torch.equal(again.step()["action"], random[0])
