"""Temporal-difference losses for Q-learning: DQN and Double DQN.

A loss is three small methods, each replaceable in a subclass:
`next_value` (what the next state is worth), `td_target` (r + gamma * next value,
cut at terminal states) and `td_loss` (per-sample loss of prediction vs target).

The loss's `gamma` is the only discount in a graph: n-step transitions (NStep) carry
their k rewards and k, and the loss discounts both the rewards and the bootstrap with
its own gamma, so an NStep node and a loss can never disagree about it.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from rlgraph.core import In, Kind, Node, Out, Param, register

from .data import Batch

REPORT_WINDOW = 100  # losses averaged in report()


@register
class DQNLoss(Node):
    """The DQN loss: Q(s, a) against r + gamma * max_a' Q_target(s', a'), per sample.

    Bootstrapping stops only where the episode `terminated`; a `truncated` transition
    (a time limit) still bootstraps from its final observation. The target is computed
    without gradient. Wire `target_q` to a TargetNetwork, or to the Q-network itself
    to learn without a target network. To change the loss, subclass and override
    `td_loss(pred, target)` (or `next_value`, `td_target`). Reports the mean of its
    last 100 losses.

    N-step transitions (from NStep: k rewards and k per row) get the target
    sum_i gamma^i r_i + gamma^k * next value, so a window cut by a time limit after
    k < n steps bootstraps with gamma^k. A batch with importance-sampling `weights`
    (PrioritizedSampler) gives loss = mean(weights * per-sample losses), the PER paper's
    weighted update; `losses` and `td_error` stay unweighted (the td errors become the
    new priorities).
    """

    inputs = {
        "batch": In(Kind.BATCH, "sampled transitions"),
        "q": In(Kind.MODULE, "the Q-network being trained", role="q", grad=True),
        "target_q": In(Kind.MODULE, "the network that values next states", role="q"),
    }
    outputs = {
        "loss": Out(Kind.SCALAR, "mean of the per-sample losses (a tensor with gradient)"),
        "losses": Out(Kind.TENSOR, "per-sample losses, (batch_size,), detached"),
        "td_error": Out(Kind.TENSOR, "target - Q(s, a), (batch_size,), detached"),
    }
    params = {
        "gamma": Param(float, 0.99, "discount factor", low=0.0, high=1.0),
        "huber": Param(bool, True, "Huber (smooth L1) loss; false: squared error"),
    }

    gamma: float
    huber: bool

    def setup(self, q: nn.Module, target_q: nn.Module) -> None:
        self.q = q
        self.target_q = target_q
        self.recent: deque[torch.Tensor] = deque(maxlen=REPORT_WINDOW)

    def step(self, batch: Batch) -> dict[str, torch.Tensor]:
        action = batch.action if batch.action.dtype == torch.int64 else batch.action.long()
        pred = self.q(batch.obs).gather(1, action.unsqueeze(1)).squeeze(1)
        with torch.no_grad():
            target = self.td_target(batch)
        losses = self.td_loss(pred, target)
        loss = losses.mean() if batch.weights is None else (batch.weights * losses).mean()
        self.recent.append(loss.detach())
        return {"loss": loss, "losses": losses.detach(), "td_error": target - pred.detach()}

    def next_value(self, batch: Batch) -> torch.Tensor:
        """What each next state is worth: max over actions of the target network."""
        return self.target_q(batch.next_obs).max(dim=1).values

    def td_target(self, batch: Batch) -> torch.Tensor:
        """r + gamma * next value, without the next value where the episode terminated;
        for n-step transitions sum_i gamma^i r_i + gamma^k * next value."""
        # zeroed where terminated: the same numbers as multiplying by an alive mask,
        # in one tensor op instead of three
        value = self.next_value(batch).masked_fill(batch.terminated, 0.0)
        if batch.steps is None:
            return batch.reward + self.gamma * value
        ret, discount = self.n_step_return(batch)
        return ret + discount * value

    def n_step_return(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """For n-step rows: the discounted sum of their rewards (zero-padded beyond k)
        and gamma^k, the discount of the value they bootstrap from."""
        reward, steps = batch.reward, batch.steps
        assert steps is not None  # called for n-step rows only
        powers = self.gamma ** torch.arange(reward.shape[1], dtype=reward.dtype,
                                            device=reward.device)
        return reward @ powers, self.gamma ** steps.to(reward.dtype)

    def td_loss(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Per-sample loss (no reduction)."""
        if self.huber:
            return F.smooth_l1_loss(pred, target, reduction="none")
        return F.mse_loss(pred, target, reduction="none")

    def report(self) -> dict[str, float]:
        if not self.recent:
            return {}
        return {"loss": float(torch.stack(tuple(self.recent)).mean())}

    def state_dict(self) -> dict[str, Any]:
        """The recent losses, so that a resumed run reports the same running mean."""
        return {"recent": torch.stack(tuple(self.recent)).cpu() if self.recent
                else torch.zeros(0)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.recent = deque(state["recent"].unbind(0), maxlen=REPORT_WINDOW)


@register
class DoubleDQNLoss(DQNLoss):
    """The Double DQN loss: the Q-network picks the next action, the target values it.

    Decoupling choice from evaluation curbs the overestimation of max over noisy
    Q-values (van Hasselt et al. 2016). Everything else is DQNLoss."""

    def next_value(self, batch: Batch) -> torch.Tensor:
        best = self.q(batch.next_obs).argmax(dim=1, keepdim=True)
        return self.target_q(batch.next_obs).gather(1, best).squeeze(1)
