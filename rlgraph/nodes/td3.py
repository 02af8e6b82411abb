"""TD3 (Fujimoto et al. 2018): a deterministic actor explored with Gaussian noise, twin
critics with target policy smoothing, and delayed actor updates.

    sample (repeat: G) -> critic_loss -> critic_optim
    actor_loss: on: critic_optim.updated, every: 2      (the delayed actor update)
    targets: TargetNetwork x 2, on: actor_optim.updated (moved with each actor update)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from rlgraph.core import Acting, In, Kind, Out, Param, register

from .continuous import TanhActor, TwinQ
from .data import Batch
from .device import Seeded
from .sac import RecentLoss, SeededLoss


@register
class NoisyActorPolicy(Seeded, Acting):
    """Acts with a deterministic actor plus Gaussian exploration noise, within the bounds.

    Actions are clipped to the env's bounds. The noise's standard deviation is `noise`
    times each action dimension's half-range (SB3's action noise on actions scaled to
    [-1, 1]); its own seeded generator draws it. In evaluation it acts with the actor's
    output alone."""

    inputs = {
        "obs": In(Kind.TENSOR, "observations, one row per env"),
        "actor": In(Kind.MODULE, "the deterministic actor", role="actor"),
    }
    outputs = {"action": Out(Kind.TENSOR, "actions in the env's bounds, (num_envs, *shape)")}
    params = {"noise": Param(float, 0.1, "std of the exploration noise, as a fraction of "
                             "the action range's half-width", low=0.0)}

    noise: float

    def setup(self, actor: TanhActor) -> None:
        self.actor = actor
        self.make_generator()

    def step(self, obs: torch.Tensor) -> dict[str, torch.Tensor]:
        with torch.inference_mode():
            action = self.actor(obs)
            scale = self.actor.scale
            noise = torch.randn(action.shape, generator=self.generator,
                                device=action.device) * (self.noise * scale.radius)
            return {"action": scale.clip(action + noise)}

    def act(self, obs: torch.Tensor) -> dict[str, torch.Tensor]:
        """The actor's action; no noise."""
        with torch.inference_mode():
            return {"action": self.actor(obs)}


@register
class TD3CriticLoss(SeededLoss):
    """The twin critics' TD error with target policy smoothing: mse(Q1, y) + mse(Q2, y).

    y = r + gamma (1 - terminated) min_i Q'_i(s', a'), a' = clip(pi'(s') + clip(eps,
    -noise_clip, noise_clip), low, high), eps ~ N(0, policy_noise), both noises as
    fractions of the action range's half-width; pi' and Q' are the target networks."""

    inputs = {
        "batch": In(Kind.BATCH, "sampled transitions"),
        "critic": In(Kind.MODULE, "the twin critics being trained", role="critic", grad=True),
        "target_critic": In(Kind.MODULE, "the target critics", role="critic"),
        "target_actor": In(Kind.MODULE, "the target actor", role="actor"),
    }
    outputs = {"loss": Out(Kind.SCALAR, "the critic loss (a tensor with gradient)")}
    params = {
        "gamma": Param(float, 0.99, "discount factor", low=0.0, high=1.0),
        "policy_noise": Param(float, 0.2, "std of the target action's noise, as a "
                              "fraction of the half-range", low=0.0),
        "noise_clip": Param(float, 0.5, "clip of that noise, as a fraction of the "
                            "half-range", low=0.0),
    }

    gamma: float
    policy_noise: float
    noise_clip: float

    def setup(self, critic: TwinQ, target_critic: TwinQ, target_actor: TanhActor) -> None:
        self.critic, self.target_critic, self.target_actor = critic, target_critic, target_actor
        self.make_generator()

    def step(self, batch: Batch) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            scale = self.target_actor.scale
            action = self.target_actor(batch.next_obs)
            noise = torch.randn(action.shape, generator=self.generator,
                                device=action.device) * self.policy_noise
            noise = noise.clamp(-self.noise_clip, self.noise_clip) * scale.radius
            next_action = scale.clip(action + noise)
            q1, q2 = self.target_critic(batch.next_obs, next_action)
            target = batch.reward + self.gamma * torch.min(q1, q2).masked_fill(
                batch.terminated, 0.0)
        q1, q2 = self.critic(batch.obs, batch.action)
        loss = F.mse_loss(q1, target) + F.mse_loss(q2, target)
        self.recent.append(loss.detach())
        return {"loss": loss}


@register
class TD3ActorLoss(RecentLoss):
    """The deterministic policy gradient: loss = -mean(Q1(s, pi(s))).

    It differentiates through the first critic into the actor. Delay it with its
    triggers (`on: critic_optim.updated, every: 2`)."""

    inputs = {
        "batch": In(Kind.BATCH, "sampled transitions (their observations)"),
        "actor": In(Kind.MODULE, "the actor being trained", role="actor", grad=True),
        "critic": In(Kind.MODULE, "the twin critics", role="critic", grad=True),
    }
    outputs = {"loss": Out(Kind.SCALAR, "the actor loss (a tensor with gradient)")}

    def setup(self, actor: TanhActor, critic: TwinQ) -> None:
        self.actor, self.critic = actor, critic
        self.make_recent()

    def step(self, batch: Batch) -> dict[str, torch.Tensor]:
        loss = -self.critic.q1(batch.obs, self.actor(batch.obs)).mean()
        self.recent.append(loss.detach())
        return {"loss": loss}
