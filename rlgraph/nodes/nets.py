"""Networks: Q-networks whose sizes come from the environment's spaces."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import torch
from torch import nn

from rlgraph.core import In, Kind, Node, Out, Param, register

from .data import EnvSpec

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU, "tanh": nn.Tanh, "elu": nn.ELU, "gelu": nn.GELU, "silu": nn.SiLU,
    "leaky_relu": nn.LeakyReLU,
}


@register
class MLP(Node):
    """An MLP Q-network: flattened observation in, one value per action out.

    Input and output sizes are read from the env spec (a Box observation space, a
    Discrete action space); only the hidden layers are written in the graph. Weights are
    initialized from the node's seed, so the same graph seed gives the same network.
    """

    inputs = {"spec": In(Kind.SPEC, "the env's spaces; the layer sizes are inferred from them")}
    outputs = {"module": Out(Kind.MODULE, "the torch.nn.Module, shared by policy, loss, "
                             "target network and optimizer")}
    params = {
        "hidden": Param(list, [64, 64], "sizes of the hidden layers", item=int),
        "activation": Param(str, "relu", "nonlinearity after each hidden layer",
                            choices=tuple(ACTIVATIONS)),
    }

    hidden: list[int]
    activation: str

    def setup(self, spec: EnvSpec) -> dict[str, Any]:
        if spec.n_actions is None:
            self.fail(f"MLP is a Q-network for discrete actions; env '{spec.id}' has "
                      f"action space {spec.action_space}", port="spec",
                      hint="use an env with a Discrete action space")
        if not isinstance(spec.observation_space, gym.spaces.Box):
            self.fail(f"MLP needs a Box observation space; env '{spec.id}' has "
                      f"{spec.observation_space}", port="spec",
                      hint="wrap the env so that it returns arrays of numbers")
        if any(h < 1 for h in self.hidden):
            self.fail(f"param 'hidden' must list positive layer sizes, got {self.hidden}")
        sizes = [spec.obs_size, *self.hidden, spec.n_actions]
        layers: list[nn.Module] = [nn.Flatten(start_dim=1)]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
                layers.append(nn.Linear(n_in, n_out))
                if i < len(sizes) - 2:
                    layers.append(ACTIVATIONS[self.activation]())
        self.module = nn.Sequential(*layers)
        return {"module": self.module}

    def state_dict(self) -> dict[str, Any]:
        return {"module": {k: v.detach().clone() for k, v in self.module.state_dict().items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.module.load_state_dict(state["module"])
