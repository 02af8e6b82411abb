"""Running normalization of observations and rewards (what SB3's VecNormalize and
gymnasium's NormalizeObservation / NormalizeReward wrappers do), as graph nodes whose
statistics are checkpointed and, for observations, applied in evaluation too."""

from __future__ import annotations

from typing import Any

import torch

from rlgraph.core import Acting, In, Kind, Node, Out, Param, register

from .data import Transition


class RunningMeanStd:
    """Mean and variance of everything seen so far, updated a batch at a time (the
    parallel algorithm of Chan et al.; starting from a count of 1e-4, as gymnasium's)."""

    def __init__(self, shape: tuple[int, ...], device: torch.device | str = "cpu") -> None:
        self.mean = torch.zeros(shape, dtype=torch.float64, device=device)
        self.var = torch.ones(shape, dtype=torch.float64, device=device)
        self.count = 1e-4

    def update(self, batch: torch.Tensor) -> None:
        batch = batch.to(torch.float64)
        n = batch.shape[0]
        mean, var = batch.mean(dim=0), batch.var(dim=0, unbiased=False)
        delta = mean - self.mean
        total = self.count + n
        self.mean = self.mean + delta * (n / total)
        self.var = (self.var * self.count + var * n
                    + delta.pow(2) * (self.count * n / total)) / total
        self.count = total

    def state_dict(self) -> dict[str, Any]:
        return {"mean": self.mean.cpu().clone(), "var": self.var.cpu().clone(),
                "count": self.count}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.mean = state["mean"].to(self.mean.device)
        self.var = state["var"].to(self.var.device)
        self.count = float(state["count"])


@register
class NormalizeObs(Node, Acting):
    """Normalizes observations by a running mean and standard deviation, then clips.

    Each firing first adds the observations to the statistics, then emits (obs - mean) /
    sqrt(var + eps) clipped to [-clip, clip]; wire the policy's obs from here. Wire the
    env's transition too, so that the transitions a learner stores hold the
    observations the policy saw: obs as emitted the tick before, next_obs normalized
    with the current statistics. In evaluation it normalizes with the statistics as they
    are, without updating them; they are saved in checkpoints.
    """

    act_mode = "pass"

    inputs = {
        "obs": In(Kind.TENSOR, "raw observations, one row per env"),
        "transition": In(Kind.TRANSITION, "the env's transitions, to normalize alike",
                         optional=True),
    }
    outputs = {
        "obs": Out(Kind.TENSOR, "normalized observations"),
        "transition": Out(Kind.TRANSITION, "the transition with normalized obs and next_obs"),
    }
    params = {
        "clip": Param(float, 10.0, "clip normalized values to [-clip, clip]", low=0.0,
                      low_open=True),
        "eps": Param(float, 1e-8, "added to the variance", low=0.0, low_open=True),
    }

    clip: float
    eps: float

    def setup(self) -> None:
        self.stats: RunningMeanStd | None = None
        self.last: torch.Tensor | None = None  # what the policy saw on the previous tick

    def step(self, obs: torch.Tensor, transition: Transition | None = None
             ) -> dict[str, Any]:
        if self.stats is None:
            self.stats = RunningMeanStd(tuple(obs.shape[1:]), obs.device)
        self.stats.update(obs)
        out: dict[str, Any] = {"obs": self._normalize(obs)}
        if transition is not None:
            previous = self.last if self.last is not None else \
                self._normalize(transition.obs)
            out["transition"] = transition.replace(
                obs=previous, next_obs=self._normalize(transition.next_obs))
        self.last = out["obs"]
        return out

    def act(self, obs: torch.Tensor, transition: Transition | None = None
            ) -> dict[str, torch.Tensor]:
        """Normalized with the current statistics; nothing updated."""
        if self.stats is None:
            return {"obs": obs.clamp(-self.clip, self.clip)}
        return {"obs": self._normalize(obs)}

    def _normalize(self, x: torch.Tensor) -> torch.Tensor:
        assert self.stats is not None
        scaled = (x - self.stats.mean) / torch.sqrt(self.stats.var + self.eps)
        return scaled.clamp(-self.clip, self.clip).to(x.dtype)

    def state_dict(self) -> dict[str, Any]:
        return {"stats": None if self.stats is None else self.stats.state_dict(),
                "last": None if self.last is None else self.last.cpu().clone()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state["stats"] is None:
            self.stats, self.last = None, None
            return
        mean = state["stats"]["mean"]
        self.stats = RunningMeanStd(tuple(mean.shape))
        self.stats.load_state_dict(state["stats"])
        self.last = state["last"]


@register
class NormalizeReward(Node):
    """Scales rewards by the running standard deviation of each env's discounted return.

    Each firing updates every env's return ret = ret * gamma + reward (reset where an
    episode ended) and its running variance, then emits the transition with reward /
    sqrt(var + eps), clipped to [-clip, clip] (SB3's VecNormalize and gymnasium's
    NormalizeReward). Episode returns the env reports stay unscaled.
    """

    inputs = {"transition": In(Kind.TRANSITION, "transitions to rescale")}
    outputs = {"transition": Out(Kind.TRANSITION, "the same transitions, rewards scaled")}
    params = {
        "gamma": Param(float, 0.99, "discount of the return whose spread scales rewards",
                       low=0.0, high=1.0),
        "clip": Param(float, 10.0, "clip scaled rewards to [-clip, clip]", low=0.0,
                      low_open=True),
        "eps": Param(float, 1e-8, "added to the variance", low=0.0, low_open=True),
    }

    gamma: float
    clip: float
    eps: float

    def setup(self) -> None:
        self.stats = RunningMeanStd(())
        self.returns: torch.Tensor | None = None

    def step(self, transition: Transition) -> dict[str, Transition]:
        reward = transition.reward.to(torch.float64)
        if self.returns is None:
            self.returns = torch.zeros_like(reward)
        self.returns = self.returns * self.gamma + reward
        self.stats.update(self.returns.reshape(-1))
        self.returns = self.returns.masked_fill(transition.terminated | transition.truncated,
                                                0.0)
        scaled = (reward / torch.sqrt(self.stats.var + self.eps)).clamp(-self.clip,
                                                                        self.clip)
        return {"transition": transition.replace(reward=scaled.to(transition.reward.dtype))}

    def state_dict(self) -> dict[str, Any]:
        return {"stats": self.stats.state_dict(),
                "returns": None if self.returns is None else self.returns.cpu().clone()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.stats.load_state_dict(state["stats"])
        self.returns = state["returns"]
