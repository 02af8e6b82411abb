"""Soft actor-critic (Haarnoja et al. 2018, with automatic entropy tuning): its policy and
its three losses. Each loss has its own optimizer, so a SAC graph has three learners:

    sample (repeat: G) -> critic_loss -> critic_optim -> actor_loss -> actor_optim
                                                          -> temperature_loss -> alpha_optim
    target: TargetNetwork, on: critic_optim.updated  (Polyak, once per gradient step)

The actor loss differentiates through the critic, so it must be built after the critic's
step (`order: {after: [critic_optim]}`); built before and differentiated after, its
saved activations would be stale, which `rlgraph validate` refuses.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import torch
import torch.nn.functional as F

from rlgraph.core import Acting, In, Kind, Node, Out, Param, register

from .continuous import LogAlpha, SquashedGaussian, TwinQ
from .data import Batch
from .device import Seeded

REPORT_WINDOW = 100


def _recent_mean(recent: deque[torch.Tensor]) -> float:
    return float(torch.stack(tuple(recent)).mean()) if recent else float("nan")


class RecentLoss(Node):
    """Base of the losses here: the mean of the last losses reported, and saved."""

    def make_recent(self) -> None:
        self.recent: deque[torch.Tensor] = deque(maxlen=REPORT_WINDOW)

    def state_dict(self) -> dict[str, Any]:
        return {"recent": torch.stack(tuple(self.recent)).cpu() if self.recent
                else torch.zeros(0)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.recent = deque(state["recent"].unbind(0), maxlen=REPORT_WINDOW)

    def report(self) -> dict[str, float]:
        return {"loss": _recent_mean(self.recent)} if self.recent else {}


class SeededLoss(Seeded, RecentLoss):
    """Base of losses that draw actions: a seeded generator (Seeded) and the recent
    losses, both checkpointed."""

    def make_generator(self) -> None:
        super().make_generator()
        self.make_recent()


@register
class SACPolicy(Seeded, Acting):
    """Acts with a squashed-Gaussian actor: a sampled action per env.

    Its own seeded generator draws the actions; in evaluation it acts with the
    deterministic scale(tanh(mean))."""

    inputs = {
        "obs": In(Kind.TENSOR, "observations, one row per env"),
        "actor": In(Kind.MODULE, "SAC's actor", role="stochastic_actor"),
    }
    outputs = {"action": Out(Kind.TENSOR, "actions in the env's bounds, (num_envs, *shape)")}

    def setup(self, actor: SquashedGaussian) -> None:
        self.actor = actor
        self.make_generator()

    def step(self, obs: torch.Tensor) -> dict[str, torch.Tensor]:
        with torch.inference_mode():
            return {"action": self.actor.act(obs, self.generator)}

    def act(self, obs: torch.Tensor) -> dict[str, torch.Tensor]:
        """scale(tanh(mean)); no random draw."""
        with torch.inference_mode():
            return {"action": self.actor.mode(obs)}


@register
class SACCriticLoss(SeededLoss):
    """The twin critics' soft Bellman error, 0.5 (mse(Q1, y) + mse(Q2, y)) per batch.

    y = r + gamma (1 - terminated) (min_i Q'_i(s', a') - alpha log pi(a' | s')), with a'
    sampled from the actor at s' and Q' the target critics, all without gradient; a
    time limit (truncated) still bootstraps. Reports the mean loss and Q."""

    inputs = {
        "batch": In(Kind.BATCH, "sampled transitions"),
        "critic": In(Kind.MODULE, "the twin critics being trained", role="critic",
                     grad=True),
        "target_critic": In(Kind.MODULE, "the target critics (a TargetNetwork)",
                            role="critic"),
        "actor": In(Kind.MODULE, "the actor, for the next actions", role="stochastic_actor"),
        "temperature": In(Kind.MODULE, "alpha", role="temperature"),
    }
    outputs = {"loss": Out(Kind.SCALAR, "the critic loss (a tensor with gradient)")}
    params = {"gamma": Param(float, 0.99, "discount factor", low=0.0, high=1.0)}

    gamma: float

    def setup(self, critic: TwinQ, target_critic: TwinQ, actor: SquashedGaussian,
              temperature: LogAlpha) -> None:
        self.critic, self.target_critic = critic, target_critic
        self.actor, self.temperature = actor, temperature
        self.make_generator()
        self.q_recent: deque[torch.Tensor] = deque(maxlen=REPORT_WINDOW)

    def step(self, batch: Batch) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            next_action, next_log_prob = self.actor.sample(batch.next_obs, self.generator)
            q1, q2 = self.target_critic(batch.next_obs, next_action)
            next_value = torch.min(q1, q2) - self.temperature() * next_log_prob
            target = batch.reward + self.gamma * next_value.masked_fill(batch.terminated, 0.0)
        q1, q2 = self.critic(batch.obs, batch.action)
        loss = 0.5 * (F.mse_loss(q1, target) + F.mse_loss(q2, target))
        self.recent.append(loss.detach())
        self.q_recent.append(q1.detach().mean())
        return {"loss": loss}

    def report(self) -> dict[str, float]:
        return {**super().report(), "q": _recent_mean(self.q_recent)} if self.recent else {}


@register
class SACActorLoss(SeededLoss):
    """SAC's actor loss: mean(alpha log pi(a | s) - min_i Q_i(s, a)), a ~ pi(s).

    The action is reparameterized, so the loss differentiates through the critics
    (their weights are not its to train) into the actor. Emits the batch's log-probs for
    the temperature's loss."""

    inputs = {
        "batch": In(Kind.BATCH, "sampled transitions (their observations)"),
        "actor": In(Kind.MODULE, "the actor being trained", role="stochastic_actor",
                    grad=True),
        "critic": In(Kind.MODULE, "the twin critics", role="critic", grad=True),
        "temperature": In(Kind.MODULE, "alpha", role="temperature"),
    }
    outputs = {
        "loss": Out(Kind.SCALAR, "the actor loss (a tensor with gradient)"),
        "log_prob": Out(Kind.TENSOR, "log pi(a | s) of the sampled actions, detached"),
    }

    def setup(self, actor: SquashedGaussian, critic: TwinQ, temperature: LogAlpha) -> None:
        self.actor, self.critic, self.temperature = actor, critic, temperature
        self.make_generator()

    def step(self, batch: Batch) -> dict[str, torch.Tensor]:
        action, log_prob = self.actor.sample(batch.obs, self.generator)
        q1, q2 = self.critic(batch.obs, action)
        loss = (self.temperature().detach() * log_prob - torch.min(q1, q2)).mean()
        self.recent.append(loss.detach())
        return {"loss": loss, "log_prob": log_prob.detach()}


@register
class TemperatureLoss(Node):
    """Automatic entropy tuning: -mean(log_alpha (log pi(a|s) + target_entropy)).

    Minimizing it raises alpha while the policy's entropy is below the target and lowers
    it above. Reports alpha."""

    inputs = {
        "log_prob": In(Kind.TENSOR, "log-probs of freshly sampled actions "
                       "(SACActorLoss.log_prob)"),
        "temperature": In(Kind.MODULE, "the temperature being trained", role="temperature",
                          grad=True),
    }
    outputs = {"loss": Out(Kind.SCALAR, "the temperature loss (a tensor with gradient)")}

    def setup(self, temperature: LogAlpha) -> None:
        self.temperature = temperature

    def step(self, log_prob: torch.Tensor) -> dict[str, torch.Tensor]:
        target = self.temperature.target_entropy
        return {"loss": -(self.temperature.log_alpha * (log_prob + target).detach()).mean()}

    def report(self) -> dict[str, float]:
        return {"alpha": float(self.temperature().detach())}
