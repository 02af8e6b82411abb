"""Networks: Q-networks whose sizes come from the environment's spaces."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import gymnasium as gym
import torch
from torch import nn

from rlgraph.core import In, Kind, Node, Out, Param, register

from .data import EnvSpec
from .device import torch_device
from .speedups import FastSequential

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU, "tanh": nn.Tanh, "elu": nn.ELU, "gelu": nn.GELU, "silu": nn.SiLU,
    "leaky_relu": nn.LeakyReLU,
}


#: what `norm: layer` puts between a hidden linear layer and its activation
NORMS = ("none", "layer")


def norm_param() -> Param:
    """The `norm` param of the Q-network nodes (MLP, DuelingMLP)."""
    return Param(str, "none", "normalize each hidden layer's output before its "
                 "activation: 'layer' (LayerNorm, with a gain and bias per unit; it steadies "
                 "TD learning, as in PQN and RLPD's critics) or 'none'", choices=NORMS)


def layers(sizes: list[int], activation: str, last_activation: bool,
           norm: str = "none") -> list[nn.Module]:
    """Linear layers between consecutive sizes, each but the last (unless
    `last_activation`) followed by the activation, with a LayerNorm before it when
    `norm` is 'layer'."""
    out: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(pairwise(sizes)):
        out.append(nn.Linear(n_in, n_out))
        if last_activation or i < len(sizes) - 2:
            if norm == "layer":
                out.append(nn.LayerNorm(n_out))
            out.append(ACTIVATIONS[activation]())
    return out


def linear_parameters(sizes: list[int], norm: str = "none",
                      last_activation: bool = False) -> int:
    """Parameters of `layers(sizes, ..., last_activation, norm)`, counted from those
    layers built on the meta device (no memory, no random draws); the activations have
    no parameters, so which one does not matter."""
    with torch.device("meta"):
        built = layers(sizes, "relu", last_activation, norm)
    return sum(p.numel() for layer in built for p in layer.parameters())


#: bytes a float32 parameter takes in its network: the weight and its gradient
PARAMETER_BYTES = 2 * 4


class Network(Node):
    """Base of the network nodes: checks the env spec, reserves the memory its weights
    will take, seeds the weights, places the module on the graph's device and saves it.
    Subclasses declare the module's role, write `build(spec)` and
    `parameter_count(spec)`, and may check the spec further in `check_spec(spec)`."""

    inputs = {"spec": In(Kind.SPEC, "the env's spaces; the layer sizes are inferred from them")}

    def check_spec(self, spec: EnvSpec) -> None:
        """Fail (self.fail) on an env this network cannot serve."""

    def setup(self, spec: EnvSpec) -> dict[str, Any]:
        kind = type(self).__name__
        self.check_spec(spec)
        if not isinstance(spec.observation_space, gym.spaces.Box):
            self.fail(f"{kind} needs a Box observation space; env '{spec.id}' has "
                      f"{spec.observation_space}", port="spec",
                      hint="wrap the env so that it returns arrays of numbers")
        for name, decl in self.params.items():
            value = getattr(self, name)
            if decl.item is int and any(h < 1 for h in value):
                self.fail(f"param '{name}' must list positive layer sizes, got {value}")
        count = self.parameter_count(spec)
        self.reserve(count * PARAMETER_BYTES, f"a network of {count:,} parameters, "
                     f"weights and gradients", hint="use smaller hidden layers")
        device = torch_device(self)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            self.module = self.build(spec).to(device)
        return {"module": self.module}

    def build(self, spec: EnvSpec) -> nn.Module:
        """The network for this env, built on the CPU from the seeded generator."""
        raise NotImplementedError

    def parameter_count(self, spec: EnvSpec) -> int:
        """How many parameters `build(spec)` will make (counted before it allocates)."""
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        return {"module": {k: v.detach().clone() for k, v in self.module.state_dict().items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.module.load_state_dict(state["module"])


class QNetwork(Network):
    """Base of the Q-network nodes: a Discrete action space, one value per action."""

    outputs = {"module": Out(Kind.MODULE, "the torch.nn.Module, shared by policy, loss, "
                             "target network and optimizer", role="q")}

    def check_spec(self, spec: EnvSpec) -> None:
        if spec.n_actions is None:
            self.fail(f"{type(self).__name__} is a Q-network for discrete actions; env "
                      f"'{spec.id}' has action space {spec.describe_actions()}",
                      port="spec", hint="use an env with a Discrete action space, or an "
                                        "actor-critic network for Box actions")


@register
class MLP(QNetwork):
    """An MLP Q-network: flattened observation in, one value per action out.

    Input and output sizes are read from the env spec (a Box observation space, a
    Discrete action space); only the hidden layers are written in the graph. Weights are
    initialized from the node's seed, so the same graph seed gives the same network;
    the module lives on the graph's device.
    """

    params = {
        "hidden": Param(list, [64, 64], "sizes of the hidden layers", item=int),
        "activation": Param(str, "relu", "nonlinearity after each hidden layer",
                            choices=tuple(ACTIVATIONS)),
        "norm": norm_param(),
    }

    hidden: list[int]
    activation: str
    norm: str

    def build(self, spec: EnvSpec) -> nn.Module:
        return FastSequential(nn.Flatten(start_dim=1),
                              *layers(self._sizes(spec), self.activation, False, self.norm))

    def parameter_count(self, spec: EnvSpec) -> int:
        return linear_parameters(self._sizes(spec), self.norm)

    def _sizes(self, spec: EnvSpec) -> list[int]:
        assert spec.n_actions is not None  # setup checked the action space
        return [spec.obs_size, *self.hidden, spec.n_actions]


class DuelingQ(nn.Module):
    """Q(s, a) = V(s) + A(s, a) - mean_a' A(s, a') over a shared trunk."""

    def __init__(self, trunk: nn.Module, value: nn.Module, advantage: nn.Module) -> None:
        super().__init__()
        self.trunk, self.value, self.advantage = trunk, value, advantage

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        features = self.trunk(obs)
        advantage = self.advantage(features)
        return self.value(features) + advantage - advantage.mean(dim=1, keepdim=True)


@register
class DuelingMLP(QNetwork):
    """A dueling Q-network: shared MLP trunk, then value and advantage streams.

    Q(s, a) = V(s) + A(s, a) - mean_a' A(s, a') (Wang et al. 2016): subtracting the mean
    advantage makes V and A identifiable. `hidden` sizes the shared trunk, `head_hidden`
    the hidden layers of each stream. Its `module` output is a Q-network like MLP's, so
    it drops into any graph in place of MLP. Seeded and placed on the device like MLP.
    """

    params = {
        "hidden": Param(list, [64, 64], "sizes of the shared trunk's hidden layers",
                        item=int, min_len=1),
        "head_hidden": Param(list, [], "sizes of the hidden layers of each stream "
                             "(value and advantage)", item=int),
        "activation": Param(str, "relu", "nonlinearity after each hidden layer",
                            choices=tuple(ACTIVATIONS)),
        "norm": norm_param(),
    }

    hidden: list[int]
    head_hidden: list[int]
    activation: str
    norm: str

    def build(self, spec: EnvSpec) -> nn.Module:
        trunk, value, advantage = self._stacks(spec)
        return DuelingQ(FastSequential(nn.Flatten(start_dim=1),
                                       *layers(trunk, self.activation, True, self.norm)),
                        FastSequential(*layers(value, self.activation, False, self.norm)),
                        FastSequential(*layers(advantage, self.activation, False, self.norm)))

    def parameter_count(self, spec: EnvSpec) -> int:
        trunk, value, advantage = self._stacks(spec)
        return (linear_parameters(trunk, self.norm, last_activation=True)
                + linear_parameters(value, self.norm) + linear_parameters(advantage, self.norm))

    def _stacks(self, spec: EnvSpec) -> tuple[list[int], list[int], list[int]]:
        """Layer sizes of the trunk, the value stream and the advantage stream."""
        assert spec.n_actions is not None  # setup checked the action space
        width = self.hidden[-1]
        return ([spec.obs_size, *self.hidden], [width, *self.head_hidden, 1],
                [width, *self.head_hidden, spec.n_actions])
