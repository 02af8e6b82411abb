"""Actor-critic networks and the policy that acts with them (on-policy learning: PPO).

An actor-critic module holds a policy and a value function for one env: a categorical
head for a Discrete action space, a diagonal Gaussian with a state-independent log-std
for a Box one. It offers what the nodes need and nothing else:

- `act(obs, generator)` -> (action, log_prob, value): sample, as a rollout acts;
- `evaluate(obs, action)` -> (log_prob, entropy, value): what a loss differentiates;
- `mode(obs)`: the most likely action (argmax, or the Gaussian's mean) for evaluation;
- `value(obs)`: the value function alone (GAE's bootstrap).

Initialization follows CleanRL's PPO: orthogonal weights, gain sqrt(2) in the hidden
layers, 0.01 on the policy's output and 1 on the value's, biases zero.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from rlgraph.core import Acting, In, Kind, Out, Param, register

from .data import EnvSpec
from .device import Seeded
from .nets import ACTIVATIONS, Network, layers, linear_parameters
from .speedups import FastSequential

LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


class ActorCritic(nn.Module):
    """A policy and a value function over one observation space (see the module doc).

    `trunk` (shared features; identity for separate networks) feeds `actor` (logits or
    the Gaussian's mean) and `critic` (one value). `log_std` is None for Discrete
    actions; `action_shape` is () for Discrete."""

    def __init__(self, trunk: nn.Module, actor: nn.Module, critic: nn.Module,
                 log_std: nn.Parameter | None, action_shape: tuple[int, ...]) -> None:
        super().__init__()
        self.trunk, self.actor, self.critic = trunk, actor, critic
        self.log_std = log_std
        self.action_shape = action_shape

    @property
    def discrete(self) -> bool:
        return self.log_std is None

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(the distribution's parameters: logits or mean, values (batch,))."""
        features = self.trunk(obs)
        return self.actor(features), self.critic(features).squeeze(-1)

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        return self.critic(self.trunk(obs)).squeeze(-1)

    def act(self, obs: torch.Tensor, generator: torch.Generator
            ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """A sampled action per row, its log-probability and the value of obs."""
        params, value = self(obs)
        if self.log_std is None:
            log_p = torch.log_softmax(params, dim=-1)
            action = torch.multinomial(log_p.exp(), 1, generator=generator).squeeze(-1)
            return action, log_p.gather(-1, action.unsqueeze(-1)).squeeze(-1), value
        noise = torch.randn(params.shape, generator=generator, device=params.device)
        flat = params + self.log_std.exp() * noise
        log_prob = (-0.5 * noise.pow(2) - self.log_std - LOG_SQRT_2PI).sum(-1)
        return flat.reshape(-1, *self.action_shape), log_prob, value

    def evaluate(self, obs: torch.Tensor, action: torch.Tensor
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """log pi(action | obs), the policy's entropy at obs, and V(obs), with gradient."""
        params, value = self(obs)
        if self.log_std is None:
            log_p = torch.log_softmax(params, dim=-1)
            log_prob = log_p.gather(-1, action.long().unsqueeze(-1)).squeeze(-1)
            return log_prob, -(log_p.exp() * log_p).sum(-1), value
        std = self.log_std.exp()
        z = (action.reshape(params.shape) - params) / std
        log_prob = (-0.5 * z.pow(2) - self.log_std - LOG_SQRT_2PI).sum(-1)
        entropy = (0.5 + LOG_SQRT_2PI + self.log_std).sum().expand(params.shape[0])
        return log_prob, entropy, value

    def mode(self, obs: torch.Tensor) -> torch.Tensor:
        """The most likely action: argmax of the logits, or the Gaussian's mean."""
        params = self.actor(self.trunk(obs))
        if self.log_std is None:
            return params.argmax(dim=-1)
        return params.reshape(-1, *self.action_shape)


def _orthogonal(layer_list: list[nn.Module], last_gain: float) -> None:
    """CleanRL's layer_init: orthogonal weights (gain sqrt 2; `last_gain` on the last
    linear layer), zero biases."""
    linears = [m for m in layer_list if isinstance(m, nn.Linear)]
    for i, layer in enumerate(linears):
        nn.init.orthogonal_(layer.weight, last_gain if i == len(linears) - 1 else math.sqrt(2))
        nn.init.zeros_(layer.bias)


class ActorCriticNetwork(Network):
    """Base of the actor-critic network nodes: Discrete or Box actions, Box observations."""

    outputs = {"module": Out(Kind.MODULE, "the actor-critic module, shared by the policy, "
                             "GAE, the loss and the optimizer",
                             role=("actor_critic", "policy", "value"))}
    params = {
        "hidden": Param(list, [64, 64], "sizes of the hidden layers", item=int, min_len=1),
        "activation": Param(str, "tanh", "nonlinearity after each hidden layer",
                            choices=tuple(ACTIVATIONS)),
        "log_std": Param(float, 0.0, "Box actions: the Gaussian's initial log standard "
                         "deviation (learned, the same in every state)"),
    }

    hidden: list[int]
    activation: str
    log_std: float

    def check_spec(self, spec: EnvSpec) -> None:
        if not (spec.discrete or spec.continuous):
            self.fail(f"{type(self).__name__} acts in Discrete or Box action spaces; env "
                      f"'{spec.id}' has {spec.describe_actions()}", port="spec")

    def parameter_count(self, spec: EnvSpec) -> int:
        out = spec.n_actions if spec.discrete else spec.action_size
        assert out is not None
        return (linear_parameters([spec.obs_size, *self.hidden, out])
                + linear_parameters([spec.obs_size, *self.hidden, 1])
                + (0 if spec.discrete else spec.action_size))

    def head_sizes(self, spec: EnvSpec) -> tuple[int, nn.Parameter | None]:
        """The actor's output size and the log-std parameter (None for Discrete)."""
        if spec.discrete:
            assert spec.n_actions is not None
            return spec.n_actions, None
        return spec.action_size, nn.Parameter(torch.full((spec.action_size,), self.log_std))


@register
class ActorCriticMLP(ActorCriticNetwork):
    """Separate MLPs for the policy and the value function (CleanRL's and SB3's default).

    Sizes come from the env spec; `hidden` sizes each network. A categorical head for a
    Discrete action space, a diagonal Gaussian with a learned, state-independent
    log-std for a Box one. Orthogonal initialization as CleanRL's PPO.
    """

    def build(self, spec: EnvSpec) -> nn.Module:
        out, log_std = self.head_sizes(spec)
        actor = layers([spec.obs_size, *self.hidden, out], self.activation, False)
        critic = layers([spec.obs_size, *self.hidden, 1], self.activation, False)
        _orthogonal(actor, 0.01)
        _orthogonal(critic, 1.0)
        return ActorCritic(nn.Flatten(start_dim=1), FastSequential(*actor),
                           FastSequential(*critic), log_std, spec.action_shape)


@register
class SharedActorCriticMLP(ActorCriticNetwork):
    """One MLP trunk feeding a policy head and a value head.

    Fewer weights than ActorCriticMLP; the value loss then shapes the policy's features
    too (weight it with the loss's vf_coef). Heads, log-std and initialization as
    ActorCriticMLP.
    """

    def parameter_count(self, spec: EnvSpec) -> int:
        out = spec.n_actions if spec.discrete else spec.action_size
        assert out is not None
        return (linear_parameters([spec.obs_size, *self.hidden])
                + linear_parameters([self.hidden[-1], out]) + self.hidden[-1] + 1
                + (0 if spec.discrete else spec.action_size))

    def build(self, spec: EnvSpec) -> nn.Module:
        out, log_std = self.head_sizes(spec)
        trunk = [nn.Flatten(start_dim=1),
                 *layers([spec.obs_size, *self.hidden], self.activation, True)]
        _orthogonal(trunk, math.sqrt(2))
        actor, critic = nn.Linear(self.hidden[-1], out), nn.Linear(self.hidden[-1], 1)
        _orthogonal([actor], 0.01)
        _orthogonal([critic], 1.0)
        return ActorCritic(FastSequential(*trunk), actor, critic, log_std, spec.action_shape)


@register
class SamplingPolicy(Seeded, Acting):
    """Samples actions from an actor-critic module; emits their log-probs and values.

    Each firing draws one action per env from the policy's distribution (its own seeded
    generator, so the same seed explores the same way) and emits its log-probability
    and the value of the observation, which a rollout buffer stores beside the
    transition the action leads to (wire them with the action's delay). In evaluation
    it acts deterministically: the most likely action (argmax, or the Gaussian's mean).
    """

    inputs = {
        "obs": In(Kind.TENSOR, "observations, one row per env"),
        "module": In(Kind.MODULE, "the actor-critic network", role="actor_critic"),
    }
    outputs = {
        "action": Out(Kind.TENSOR, "sampled actions: (num_envs,) int64 or "
                      "(num_envs, *action_shape) float32, before any clipping"),
        "log_prob": Out(Kind.TENSOR, "log pi(action | obs), (num_envs,)"),
        "value": Out(Kind.TENSOR, "V(obs), (num_envs,)"),
    }

    def setup(self, module: ActorCritic) -> None:
        self.module = module
        self.make_generator()

    def step(self, obs: torch.Tensor) -> dict[str, torch.Tensor]:
        with torch.inference_mode():
            action, log_prob, value = self.module.act(obs, self.generator)
        return {"action": action, "log_prob": log_prob, "value": value}

    def act(self, obs: torch.Tensor) -> dict[str, torch.Tensor]:
        """The most likely action; no random draw."""
        with torch.inference_mode():
            return {"action": self.module.mode(obs)}

