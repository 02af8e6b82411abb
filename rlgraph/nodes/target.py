"""Target networks: a frozen copy of a module that follows it only when told to."""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

from rlgraph.core import In, Kind, Node, Out, Param, register, saved


def _tensors(module: nn.Module) -> list[torch.Tensor]:
    """A module's parameters and buffers (in the same order for a module and its deep
    copy)."""
    return [*module.parameters(), *module.buffers()]


@register
class TargetNetwork(Node):
    """A frozen copy of a network, moved towards it each time the node fires.

    tau = 1 copies the weights (a hard update); tau < 1 mixes them in,
    target <- target + tau * (source - target) (a Polyak / soft update). The copy is
    exact at build. How often it fires is set by its triggers, e.g. `every: 500`.
    This is the seed's GhostNetwork with its 'hard' and WeightsLinearMix(tau) mixers.
    """

    inputs = {"source": In(Kind.MODULE, "the network being trained")}
    outputs = {"module": Out(Kind.MODULE, "the frozen copy (no gradients); the same role as "
                             "the source", like="source", writes=True)}
    params = {"tau": Param(float, 1.0, "fraction of the way towards the source per update; "
                           "1.0 = hard copy", low=0.0, high=1.0, low_open=True)}

    tau: float

    def setup(self, source: nn.Module) -> dict[str, Any]:
        self.source = source
        self.reserve(sum(t.numel() * t.element_size() for t in _tensors(source)),
                     "a copy of the source network", hint="use a smaller network")
        self.module = copy.deepcopy(source)
        self.module.requires_grad_(False)
        # (copy, original) tensor pairs: parameters and buffers, whose storage loading a
        # state_dict writes into, so the pairs stay valid
        self._pairs = list(zip(_tensors(self.module), _tensors(source)))
        self.updates = 0
        return {"module": self.module}

    def step(self) -> None:
        self.update()

    def update(self) -> None:
        """Move the copy towards the source by tau (all the way when tau = 1)."""
        with torch.no_grad():
            for target, source in self._pairs:
                if self.tau >= 1.0 or not target.is_floating_point():  # counters are copied
                    target.copy_(source)
                else:
                    target.lerp_(source, self.tau)
        self.updates += 1

    def report(self) -> dict[str, float]:
        return {"updates": self.updates}

    def state_dict(self) -> dict[str, Any]:
        return {"module": {k: v.clone() for k, v in self.module.state_dict().items()},
                "updates": self.updates}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.module.load_state_dict(state["module"])
        self.updates = saved.count(state, "updates")
