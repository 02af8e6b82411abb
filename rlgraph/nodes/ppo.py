"""The PPO loss (Schulman et al. 2017): a clipped surrogate, a value loss, an entropy bonus."""

from __future__ import annotations

from collections import deque
from typing import Any

import torch

from rlgraph.core import In, Kind, Node, Out, Param, register
from rlgraph.core.schedules import Schedule

from .actor_critic import ActorCritic
from .data import Batch

REPORT_WINDOW = 100  # minibatches averaged in report()


@register
class PPOLoss(Node):
    """PPO's clipped objective on a minibatch of a rollout, for one optimizer step.

    ratio = pi(a|s) / pi_old(a|s); policy loss = mean(max(-A ratio, -A clip(ratio,
    1 - clip, 1 + clip))) with A the minibatch's advantages (normalized to mean 0, std 1
    unless `normalize_advantage: false`); value loss = mean((V(s) - R)^2), with
    `clip_value` the larger of that and the loss of V clipped to within clip_value of
    the value the rollout recorded; loss = policy loss + vf_coef * value loss - ent_coef *
    entropy. (SB3's convention; CleanRL halves its value loss, so its vf_coef 0.5 is 0.25
    here.) `clip` and `ent_coef` may be schedules. It emits approx_kl, the
    (ratio - 1) - log ratio estimate of KL(pi_old || pi), for an early stop, and reports
    the mean losses, entropy, approx_kl, clip fraction and explained variance of its
    last 100 minibatches.
    """

    inputs = {
        "batch": In(Kind.BATCH, "a minibatch of a rollout with log_prob, value, advantage "
                    "and returns (MinibatchSampler)"),
        "module": In(Kind.MODULE, "the actor-critic network being trained",
                     role="actor_critic", grad=True),
    }
    outputs = {
        "loss": Out(Kind.SCALAR, "the total loss (a tensor with gradient)"),
        "approx_kl": Out(Kind.SCALAR, "estimated KL(pi_old || pi) on this minibatch, a "
                         "float"),
    }
    params = {
        "clip": Param(float, 0.2, "the ratio's clip range (or a schedule of it)", low=0.0,
                      schedule=True),
        "clip_value": Param(float, None, "clip V to within this of the rollout's value in "
                            "the value loss (null: no clipping)", low=0.0, low_open=True),
        "vf_coef": Param(float, 0.5, "weight of the value loss", low=0.0),
        "ent_coef": Param(float, 0.0, "weight of the entropy bonus (or a schedule)",
                          low=0.0, schedule=True),
        "normalize_advantage": Param(bool, True, "normalize each minibatch's advantages"),
    }

    clip: Schedule
    clip_value: float | None
    vf_coef: float
    ent_coef: Schedule
    normalize_advantage: bool

    def setup(self, module: ActorCritic) -> None:
        self.module = module
        self.recent: deque[torch.Tensor] = deque(maxlen=REPORT_WINDOW)

    def step(self, batch: Batch) -> dict[str, Any]:
        log_prob, entropy, value = self.module.evaluate(batch.obs, batch.action)
        advantage = batch.advantage
        if self.normalize_advantage and advantage.shape[0] > 1:
            advantage = (advantage - advantage.mean()) / (advantage.std() + 1e-8)
        log_ratio = log_prob - batch.log_prob
        ratio = log_ratio.exp()
        clip = self.clip.at(self.clock.tick)
        policy_loss = torch.max(-advantage * ratio,
                                -advantage * ratio.clamp(1.0 - clip, 1.0 + clip)).mean()
        value_loss = (value - batch.returns).pow(2)
        if self.clip_value is not None:
            clipped = batch.value + (value - batch.value).clamp(-self.clip_value,
                                                                self.clip_value)
            value_loss = torch.max(value_loss, (clipped - batch.returns).pow(2))
        value_loss = value_loss.mean()
        entropy = entropy.mean()
        loss = policy_loss + self.vf_coef * value_loss \
            - self.ent_coef.at(self.clock.tick) * entropy
        with torch.no_grad():
            approx_kl = ((ratio - 1.0) - log_ratio).mean()
            clipped_share = ((ratio - 1.0).abs() > clip).float().mean()
            explained = 1.0 - (batch.returns - batch.value).var() / batch.returns.var()
            self.recent.append(torch.stack([policy_loss, value_loss, entropy, approx_kl,
                                            clipped_share, explained]).detach())
        return {"loss": loss, "approx_kl": float(approx_kl)}

    def report(self) -> dict[str, float]:
        if not self.recent:
            return {}
        means = torch.stack(tuple(self.recent)).nanmean(dim=0).tolist()
        return dict(zip(("policy_loss", "value_loss", "entropy", "approx_kl",
                         "clip_fraction", "explained_variance"), means))

    def state_dict(self) -> dict[str, Any]:
        return {"recent": torch.stack(tuple(self.recent)).cpu() if self.recent
                else torch.zeros(0, 6)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.recent = deque(state["recent"].unbind(0), maxlen=REPORT_WINDOW)
