"""Networks: Q-networks whose sizes come from the environment's spaces."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import torch
import torch.nn.functional as F
from torch import nn

from rlgraph.core import In, Kind, Node, Out, Param, register

from .data import EnvSpec
from .device import torch_device

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU, "tanh": nn.Tanh, "elu": nn.ELU, "gelu": nn.GELU, "silu": nn.SiLU,
    "leaky_relu": nn.LeakyReLU,
}


FUNCTIONAL = {nn.ReLU: torch.relu, nn.Tanh: torch.tanh}


class Stack(nn.Sequential):
    """nn.Sequential whose forward calls linear layers and plain activations directly.

    Same children, parameters and state_dict keys as nn.Sequential and the same numbers
    up to float rounding, at about half the Python cost per forward (acting calls it
    every tick with one row): no per-layer `Module.__call__`, no `Module.__getattr__`
    for weights, and no Flatten of an already flat batch. A single row (one env acting)
    goes through the linear layers as a vector, matrix-vector products costing less
    than 1-row matrix products. The plan of calls is rebuilt whenever the children
    change; a Linear whose weight is computed (torch parametrizations, weight_norm) is
    called as a module. Forward hooks on the inner layers are not called."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        children = tuple(self._modules.values())
        if children != getattr(self, "_plan_children", None):
            self._plan = _plan(children)
            self._plan_children = children
        vector = False  # x is the single row of a (1, features) batch
        for kind, target in self._plan:
            if kind is _LINEAR:  # the layer's own parameter dict: always its current ones
                params, layer = target
                weight, bias = params.get("weight"), params.get("bias")
                if weight is None:  # a computed weight (parametrizations, weight_norm)
                    if vector:
                        x, vector = x.unsqueeze(0), False
                    x = layer(x)
                    continue
                if not vector and x.dim() == 2 and x.shape[0] == 1:
                    x, vector = x[0], True
                if vector:
                    x = torch.mv(weight, x) if bias is None else torch.addmv(bias, weight, x)
                else:
                    x = F.linear(x, weight, bias)
            elif kind is _ACTIVATION:
                x = target(x)
            else:
                if vector:  # modules get the batch shape they expect
                    x, vector = x.unsqueeze(0), False
                if kind is _CALL or x.dim() != 2:  # Flatten only what is not flat
                    x = target(x)
        return x.unsqueeze(0) if vector else x


_LINEAR, _ACTIVATION, _FLATTEN, _CALL = "linear", "activation", "flatten", "call"


def _plan(children: tuple[nn.Module, ...]) -> list[tuple[str, Any]]:
    """What Stack.forward calls for each child: F.linear on a Linear's parameters, the
    torch function of a plain activation, or the module itself."""
    plan: list[tuple[str, Any]] = []
    for layer in children:
        kind = type(layer)
        if kind is nn.Linear:
            plan.append((_LINEAR, (layer._parameters, layer)))
        elif kind in FUNCTIONAL:
            plan.append((_ACTIVATION, FUNCTIONAL[kind]))
        elif kind is nn.Flatten and layer.start_dim == 1 and layer.end_dim == -1:
            plan.append((_FLATTEN, layer))
        else:
            plan.append((_CALL, layer))
    return plan


def layers(sizes: list[int], activation: str, last_activation: bool) -> list[nn.Module]:
    """Linear layers between consecutive sizes, each but the last (unless
    `last_activation`) followed by the activation."""
    out: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        out.append(nn.Linear(n_in, n_out))
        if last_activation or i < len(sizes) - 2:
            out.append(ACTIVATIONS[activation]())
    return out


class QNetwork(Node):
    """Base of the Q-network nodes: checks the env spec, seeds the weights, places the
    module on the graph's device and saves it. Subclasses write `build(spec)`."""

    inputs = {"spec": In(Kind.SPEC, "the env's spaces; the layer sizes are inferred from them")}
    outputs = {"module": Out(Kind.MODULE, "the torch.nn.Module, shared by policy, loss, "
                             "target network and optimizer", role="q")}

    def setup(self, spec: EnvSpec) -> dict[str, Any]:
        kind = type(self).__name__
        if spec.n_actions is None:
            self.fail(f"{kind} is a Q-network for discrete actions; env '{spec.id}' has "
                      f"action space {spec.action_space}", port="spec",
                      hint="use an env with a Discrete action space")
        if not isinstance(spec.observation_space, gym.spaces.Box):
            self.fail(f"{kind} needs a Box observation space; env '{spec.id}' has "
                      f"{spec.observation_space}", port="spec",
                      hint="wrap the env so that it returns arrays of numbers")
        for name, decl in self.params.items():
            value = getattr(self, name)
            if decl.item is int and any(h < 1 for h in value):
                self.fail(f"param '{name}' must list positive layer sizes, got {value}")
        device = torch_device(self)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            self.module = self.build(spec).to(device)
        return {"module": self.module}

    def build(self, spec: EnvSpec) -> nn.Module:
        """The network for this env, built on the CPU from the seeded generator."""
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        return {"module": {k: v.detach().clone() for k, v in self.module.state_dict().items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.module.load_state_dict(state["module"])


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
    }

    hidden: list[int]
    activation: str

    def build(self, spec: EnvSpec) -> nn.Module:
        sizes = [spec.obs_size, *self.hidden, spec.n_actions]
        return Stack(nn.Flatten(start_dim=1), *layers(sizes, self.activation, False))


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
    }

    hidden: list[int]
    head_hidden: list[int]
    activation: str

    def build(self, spec: EnvSpec) -> nn.Module:
        trunk = Stack(nn.Flatten(start_dim=1),
                      *layers([spec.obs_size, *self.hidden], self.activation, True))
        width = self.hidden[-1]
        value = Stack(*layers([width, *self.head_hidden, 1], self.activation, False))
        advantage = Stack(*layers([width, *self.head_hidden, spec.n_actions],
                                  self.activation, False))
        return DuelingQ(trunk, value, advantage)
