"""Networks for off-policy continuous control (SAC, TD3): actors, twin Q critics, and
the entropy temperature. Actions are Box arrays in the env's own bounds throughout:
actors squash with tanh and scale to [low, high], critics take them as they are stored.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from rlgraph.core import In, Kind, Node, Out, Param, register

from .data import EnvSpec
from .device import torch_device
from .nets import ACTIVATIONS, Network, layers, linear_parameters
from .speedups import FastSequential

#: SB3's and SpinningUp's clamp of the Gaussian's log standard deviation
LOG_STD_MIN, LOG_STD_MAX = -20.0, 2.0
LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)
LOG_2 = math.log(2.0)


class BoxScale(nn.Module):
    """tanh outputs in [-1, 1] mapped to an env's [low, high] (buffers: they move with
    the module and are saved with it)."""

    center: torch.Tensor
    radius: torch.Tensor

    def __init__(self, spec: EnvSpec) -> None:
        super().__init__()
        low, high = spec.action_low, spec.action_high
        assert low is not None and high is not None
        self.register_buffer("center", torch.as_tensor((high + low) / 2, dtype=torch.float32))
        self.register_buffer("radius", torch.as_tensor((high - low) / 2, dtype=torch.float32))
        self.shape = spec.action_shape

    def forward(self, squashed: torch.Tensor) -> torch.Tensor:
        return (self.center.reshape(-1) + self.radius.reshape(-1) * squashed).reshape(
            -1, *self.shape)

    def clip(self, action: torch.Tensor) -> torch.Tensor:
        """`action` clipped to [low, high]."""
        return torch.max(torch.min(action, self.center + self.radius),
                         self.center - self.radius)


class SquashedGaussian(nn.Module):
    """SAC's policy: u ~ N(mean(s), std(s)), action = scale(tanh(u)).

    The log-probability is that of tanh(u) in [-1, 1]^d (the affine scaling to the env's
    bounds is a constant, left out as SB3 leaves it out, so that the target entropy
    -dim(A) means the same for every env): log N(u) - sum log(1 - tanh(u)^2), with
    log(1 - tanh(u)^2) = 2 (log 2 - u - softplus(-2u)), which stays finite where tanh
    saturates (the naive form gives -inf and NaN gradients)."""

    def __init__(self, trunk: nn.Module, mean: nn.Module, log_std: nn.Module,
                 scale: BoxScale) -> None:
        super().__init__()
        self.trunk, self.mean, self.log_std, self.scale = trunk, mean, log_std, scale

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The Gaussian's mean and clamped log standard deviation, (batch, d)."""
        features = self.trunk(obs)
        log_std = self.log_std(features).clamp(LOG_STD_MIN, LOG_STD_MAX)
        return self.mean(features), log_std

    def draw(self, obs: torch.Tensor, generator: torch.Generator | None = None
             ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """u = mean + std * noise (reparameterized), the noise, and the log-std."""
        mean, log_std = self(obs)
        noise = torch.randn(mean.shape, generator=generator, device=mean.device,
                            dtype=mean.dtype)
        return mean + log_std.exp() * noise, noise, log_std

    def sample(self, obs: torch.Tensor, generator: torch.Generator | None = None
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """A reparameterized action in the env's bounds and its log-probability."""
        u, noise, log_std = self.draw(obs, generator)
        log_prob = (-0.5 * noise.pow(2) - log_std - LOG_SQRT_2PI).sum(-1)
        log_prob = log_prob - (2.0 * (LOG_2 - u - F.softplus(-2.0 * u))).sum(-1)
        return self.scale(torch.tanh(u)), log_prob

    def act(self, obs: torch.Tensor, generator: torch.Generator | None = None
            ) -> torch.Tensor:
        """The action `sample` draws (the same draw from the same generator state),
        without its log-probability: what acting needs (a third of its cost for one
        env)."""
        return self.scale(torch.tanh(self.draw(obs, generator)[0]))

    def mode(self, obs: torch.Tensor) -> torch.Tensor:
        """The deterministic action: scale(tanh(mean))."""
        return self.scale(torch.tanh(self(obs)[0]))


class TanhActor(nn.Module):
    """TD3's deterministic policy: action = scale(tanh(mlp(obs)))."""

    scale: BoxScale

    def __init__(self, body: nn.Module, scale: BoxScale) -> None:
        super().__init__()
        self.body, self.scale = body, scale

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.scale(torch.tanh(self.body(obs)))

    def mode(self, obs: torch.Tensor) -> torch.Tensor:
        return self(obs)


class TwinQ(nn.Module):
    """Two independent Q(s, a) networks in one module (clipped double-Q learning)."""

    def __init__(self, q1: nn.Module, q2: nn.Module) -> None:
        super().__init__()
        self.q1_net, self.q2_net = q1, q2

    def forward(self, obs: torch.Tensor, action: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.cat([obs.flatten(1), action.flatten(1)], dim=1)
        return self.q1_net(x).squeeze(-1), self.q2_net(x).squeeze(-1)

    def q1(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return self.q1_net(torch.cat([obs.flatten(1), action.flatten(1)], dim=1)).squeeze(-1)


class BoxNetwork(Network):
    """Base of the continuous-control network nodes: a Box action space."""

    params = {
        "hidden": Param(list, [256, 256], "sizes of the hidden layers", item=int,
                        min_len=1),
        "activation": Param(str, "relu", "nonlinearity after each hidden layer",
                            choices=tuple(ACTIVATIONS)),
    }

    hidden: list[int]
    activation: str

    def check_spec(self, spec: EnvSpec) -> None:
        if not spec.continuous:
            self.fail(f"{type(self).__name__} is for Box (continuous) actions; env "
                      f"'{spec.id}' has {spec.describe_actions()}", port="spec",
                      hint="use a Q-network (MLP) or an actor-critic for Discrete actions")


@register
class SquashedGaussianActor(BoxNetwork):
    """SAC's actor: a tanh-squashed Gaussian whose mean and log-std depend on the state.

    An MLP trunk (`hidden`) with two linear heads; the log-std is clamped to [-20, 2];
    actions come out in the env's bounds. See SquashedGaussian for the log-probability.
    """

    outputs = {"module": Out(Kind.MODULE, "the actor module", role="stochastic_actor")}

    def parameter_count(self, spec: EnvSpec) -> int:
        return (linear_parameters([spec.obs_size, *self.hidden])
                + 2 * linear_parameters([self.hidden[-1], spec.action_size]))

    def build(self, spec: EnvSpec) -> nn.Module:
        trunk = FastSequential(nn.Flatten(start_dim=1),
                               *layers([spec.obs_size, *self.hidden], self.activation, True))
        size = self.hidden[-1]
        return SquashedGaussian(trunk, nn.Linear(size, spec.action_size),
                                nn.Linear(size, spec.action_size), BoxScale(spec))


@register
class DeterministicActor(BoxNetwork):
    """TD3's actor: an MLP whose tanh output is scaled to the env's action bounds."""

    outputs = {"module": Out(Kind.MODULE, "the actor module", role="actor")}

    def parameter_count(self, spec: EnvSpec) -> int:
        return linear_parameters([spec.obs_size, *self.hidden, spec.action_size])

    def build(self, spec: EnvSpec) -> nn.Module:
        body = FastSequential(nn.Flatten(start_dim=1), *layers(
            [spec.obs_size, *self.hidden, spec.action_size], self.activation, False))
        return TanhActor(body, BoxScale(spec))


@register
class TwinQNetwork(BoxNetwork):
    """Two Q(s, a) MLPs in one module: the critics of SAC and TD3.

    Each takes the flattened observation and the action (as stored: in the env's
    bounds) and gives one value; losses use the smaller of the two as the target."""

    outputs = {"module": Out(Kind.MODULE, "the twin critic module", role="critic")}

    def parameter_count(self, spec: EnvSpec) -> int:
        return 2 * linear_parameters([spec.obs_size + spec.action_size, *self.hidden, 1])

    def build(self, spec: EnvSpec) -> nn.Module:
        sizes = [spec.obs_size + spec.action_size, *self.hidden, 1]
        return TwinQ(FastSequential(*layers(sizes, self.activation, False)),
                     FastSequential(*layers(sizes, self.activation, False)))


class LogAlpha(nn.Module):
    """SAC's learned entropy coefficient alpha = exp(log_alpha), and its target entropy."""

    def __init__(self, init: float, target_entropy: float) -> None:
        super().__init__()
        self.log_alpha = nn.Parameter(torch.tensor(math.log(init)))
        self.target_entropy = target_entropy

    def forward(self) -> torch.Tensor:
        return self.log_alpha.exp()


@register
class Temperature(Node):
    """SAC's entropy temperature as a trainable module: alpha = exp(log_alpha).

    Its target entropy is -dim(A) (SB3's and the SAC paper's choice) unless
    `target_entropy` is given; TemperatureLoss trains log_alpha towards it with its own
    optimizer. The module lives on the graph's device and is checkpointed.
    """

    inputs = {"spec": In(Kind.SPEC, "the env's spaces (the action dimension)")}
    outputs = {"module": Out(Kind.MODULE, "the temperature module", role="temperature")}
    params = {
        "init": Param(float, 1.0, "initial alpha", low=0.0, low_open=True),
        "target_entropy": Param(float, None, "the policy entropy alpha steers towards "
                                "(null: -dim(A))"),
    }

    init: float
    target_entropy: float | None

    def setup(self, spec: EnvSpec) -> dict[str, nn.Module]:
        target = self.target_entropy if self.target_entropy is not None else \
            -float(np.prod(spec.action_shape or (1,)))
        self.module = LogAlpha(self.init, target).to(torch_device(self))
        return {"module": self.module}

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {"log_alpha": self.module.log_alpha.detach().cpu().clone()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        with torch.no_grad():
            self.module.log_alpha.copy_(state["log_alpha"])
