"""On-policy data: the rollout of T steps of N envs, its advantages, its minibatches.

    env.transition ──┐
    policy.log_prob ─┼─> RolloutBuffer ──> GAE ──> MinibatchSampler (repeat: E x M)
    policy.value ────┘       (T ticks)     (adv.)   ──> loss ──> optimizer

The buffer emits a rollout every T ticks and starts a new one; the sampler turns it into
E epochs of M shuffled minibatches within the same tick (its `repeat`), so the policy
that acts after the update (`order: {after: [sample]}`) starts the next rollout pure.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from rlgraph.core import In, Kind, Node, Out, Param, register

from .actor_critic import ActorCritic
from .data import Batch, Rollout, Transition


@register
class RolloutBuffer(Node):
    """Collects `steps` ticks of every env's transitions, then emits them as a rollout.

    Beside each transition it keeps what the policy said when it chose that action:
    its log-probability and the value of the observation (wire both from the policy
    with the action's delay, so that they line up with the transition the action led
    to). Every field the transitions hold is kept (T, N, ...). After emitting, it starts
    the next rollout empty: on-policy data is used once.
    """

    inputs = {
        "transition": In(Kind.TRANSITION, "one env step of every env"),
        "log_prob": In(Kind.TENSOR, "log pi(action | obs) of those actions, usually "
                       "{from: policy.log_prob, delay: 1}"),
        "value": In(Kind.TENSOR, "V(obs) of those observations, usually "
                    "{from: policy.value, delay: 1}"),
    }
    outputs = {"rollout": Out(Kind.ROLLOUT, "T steps x N envs, every `steps` ticks; "
                              "absent on other ticks")}
    params = {"steps": Param(int, 128, "ticks per rollout (T); a rollout holds T x "
                             "num_envs transitions", low=1)}

    steps: int

    def setup(self) -> None:
        self.rows: list[dict[str, torch.Tensor]] = []
        self.rollouts = 0

    def step(self, transition: Transition, log_prob: torch.Tensor,
             value: torch.Tensor) -> dict[str, Rollout] | None:
        row = {**transition.fields(), "log_prob": log_prob, "value": value}
        if self.rows and row.keys() != self.rows[0].keys():
            self.fail(f"transition fields {sorted(row)} differ from those of this "
                      f"rollout so far {sorted(self.rows[0])}", port="transition")
        self.rows.append(row)
        if len(self.rows) < self.steps:
            return None
        rows, self.rows = self.rows, []
        self.rollouts += 1
        return {"rollout": Rollout(**{k: None if rows[0][k] is None else
                                      torch.stack([r[k] for r in rows])
                                      for k in rows[0]})}

    def report(self) -> dict[str, float]:
        return {"rollouts": self.rollouts}

    def state_dict(self) -> dict[str, Any]:
        return {"rows": [dict(r) for r in self.rows], "rollouts": self.rollouts}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rows = [dict(r) for r in state["rows"]]
        self.rollouts = state["rollouts"]


def state_values(module: nn.Module, obs: torch.Tensor) -> torch.Tensor:
    """V(obs) for a batch of observations, from an actor-critic or a value network."""
    if isinstance(module, ActorCritic):
        return module.value(obs)
    return module(obs).reshape(obs.shape[0])


@register
class GAE(Node):
    """Adds generalized advantage estimates (Schulman et al. 2016) and returns to a rollout.

    delta_t = r_t + gamma * V(next_obs_t) * (1 - terminated_t) - V(obs_t);
    A_t = delta_t + gamma * lam * (1 - done_t) * A_{t+1}; return_t = A_t + V(obs_t).
    V(next_obs) is computed for every step, so a time limit (truncated) bootstraps from
    the true final observation of the episode, and the last step of a rollout from its
    next observation; only a termination stops bootstrapping. V(obs_t) is the value the
    policy emitted when it acted. Adds `advantage` and `returns`, (T, N).
    """

    inputs = {
        "rollout": In(Kind.ROLLOUT, "T steps x N envs, with the policy's values"),
        "module": In(Kind.MODULE, "the value function: an actor-critic or a value network",
                     role=("actor_critic", "value")),
    }
    outputs = {"rollout": Out(Kind.ROLLOUT, "the same rollout with advantage and returns")}
    params = {
        "gamma": Param(float, 0.99, "discount factor", low=0.0, high=1.0),
        "lam": Param(float, 0.95, "GAE lambda: 0 = one-step TD, 1 = Monte Carlo returns",
                     low=0.0, high=1.0),
    }

    gamma: float
    lam: float

    def setup(self, module: nn.Module) -> None:
        self.module = module

    def step(self, rollout: Rollout) -> dict[str, Rollout]:
        steps, envs = rollout.reward.shape[:2]
        with torch.no_grad():
            next_value = state_values(
                self.module, rollout.next_obs.reshape(steps * envs, *rollout.next_obs.shape[2:])
            ).reshape(steps, envs)
        advantage = gae(rollout.reward, rollout.value, next_value, rollout.terminated,
                        rollout.terminated | rollout.truncated, self.gamma, self.lam)
        return {"rollout": rollout.replace(advantage=advantage,
                                           returns=advantage + rollout.value)}


def gae(reward: torch.Tensor, value: torch.Tensor, next_value: torch.Tensor,
        terminated: torch.Tensor, done: torch.Tensor, gamma: float, lam: float
        ) -> torch.Tensor:
    """GAE over (T, N) tensors, backwards in time; an episode end (`done`) stops the
    recursion, a termination also the bootstrap."""
    alive = (~terminated).to(reward.dtype)
    carry = (~done).to(reward.dtype) * (gamma * lam)
    delta = reward + gamma * next_value * alive - value
    advantage = torch.empty_like(delta)
    last = torch.zeros_like(delta[0])
    for t in range(delta.shape[0] - 1, -1, -1):
        last = delta[t] + carry[t] * last
        advantage[t] = last
    return advantage


@register
class MinibatchSampler(Node):
    """Turns each rollout into `epochs` passes of `minibatches` shuffled minibatches.

    Set the node's `repeat` to epochs x minibatches: each repetition emits the next
    minibatch (T x N rows split as evenly as they go), so the loss and the optimizer
    after it (its burst) train on them within the tick the rollout arrived. With
    `target_kl`, a KL estimate fed back from the loss within the burst (`kl: {from:
    loss.approx_kl, delay: 1}`) above it stops the rest of this rollout's minibatches
    (an early stop, as SB3 checks after every minibatch).
    """

    inputs = {
        "rollout": In(Kind.ROLLOUT, "the rollout to learn from (with advantages)"),
        "kl": In(Kind.SCALAR, "the loss's approx_kl on the previous minibatch, for the "
                 "early stop: {from: loss.approx_kl, delay: 1}", optional=True),
    }
    outputs = {"batch": Out(Kind.BATCH, "a minibatch of the rollout's rows, every field")}
    params = {
        "epochs": Param(int, 10, "passes over each rollout", low=1),
        "minibatches": Param(int, 4, "minibatches per pass", low=1),
        "target_kl": Param(float, None, "stop this rollout's updates once approx_kl "
                           "exceeds it (null: never)", low=0.0, low_open=True),
    }

    epochs: int
    minibatches: int
    target_kl: float | None

    def setup(self) -> None:
        if self.repeat != self.epochs * self.minibatches:
            self.fail(f"repeat {self.repeat} does not match {self.epochs} epochs x "
                      f"{self.minibatches} minibatches",
                      hint=f"set repeat: {self.epochs * self.minibatches} on this node")
        self.generator = torch.Generator().manual_seed(self.seed)
        self.rollout: Rollout | None = None
        self.emitted = 0  # minibatches of the current rollout
        self.stopped = False
        self.early_stops = 0
        self.epochs_done: list[float] = []

    def step(self, rollout: Rollout, kl: float | None = None) -> dict[str, Batch] | None:
        if rollout is not self.rollout:
            self._start(rollout)
        if self.target_kl is not None and kl is not None and kl > self.target_kl \
                and not self.stopped:
            self.stopped = True
            self.early_stops += 1
            self.epochs_done[-1] = self.emitted / self.minibatches
        if self.stopped or self.emitted >= len(self.order):
            return None
        index = self.order[self.emitted]
        self.emitted += 1
        return {"batch": self.flat.rows(index)}

    def _start(self, rollout: Rollout) -> None:
        self.rollout, self.flat = rollout, rollout.flat()
        rows = int(self.flat.reward.shape[0])
        if rows < self.minibatches:
            self.fail(f"a rollout of {rows} rows cannot make {self.minibatches} minibatches",
                      port="rollout", hint="fewer minibatches, or more steps or envs")
        self.order = [chunk for _ in range(self.epochs) for chunk in torch.tensor_split(
            torch.randperm(rows, generator=self.generator), self.minibatches)]
        self.emitted, self.stopped = 0, False
        self.epochs_done.append(float(self.epochs))
        del self.epochs_done[:-100]

    def report(self) -> dict[str, float]:
        out = {"early_stops": float(self.early_stops)}
        if self.epochs_done:
            out["epochs"] = float(np.mean(self.epochs_done))
        return out

    def state_dict(self) -> dict[str, Any]:
        # between ticks a burst is over: nothing of the last rollout is needed again
        return {"generator": self.generator.get_state(), "early_stops": self.early_stops,
                "epochs_done": list(self.epochs_done)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])
        self.early_stops = state["early_stops"]
        self.epochs_done = list(state["epochs_done"])
