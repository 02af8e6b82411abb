"""Policies that act with a Q-network: greedy, and epsilon-greedy with a decaying epsilon."""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
import torch
from torch import nn

from rlgraph.core import Acting, In, Kind, Node, Out, Param, register, saved

from .data import EnvSpec, Episodes


def linear_schedule(start: float, end: float, decay_steps: int, t: int) -> float:
    """Goes from `start` to `end` in a straight line over `decay_steps`, then stays."""
    return start + (end - start) * min(1.0, t / decay_steps)


def exponential_schedule(start: float, end: float, decay_steps: int, t: int) -> float:
    """Approaches `end` from `start` exponentially: the gap shrinks by e every
    `decay_steps` (the PyTorch DQN tutorial's schedule)."""
    return end + (start - end) * math.exp(-t / decay_steps)


SCHEDULES = {"linear": linear_schedule, "exponential": exponential_schedule}


@register
class Greedy(Node, Acting):
    """Acts greedily: the action with the highest Q-value, for every env."""

    act_mode = "greedy"

    inputs = {
        "obs": In(Kind.TENSOR, "observations, one row per env"),
        "q": In(Kind.MODULE, "the Q-network that scores actions", role="q"),
    }
    outputs = {"action": Out(Kind.TENSOR, "argmax_a Q(obs, a), (num_envs,) int64")}

    def setup(self, q: nn.Module) -> None:
        self.q = q

    def step(self, obs: torch.Tensor) -> dict[str, torch.Tensor]:
        with torch.inference_mode():
            return {"action": self.q(obs).argmax(dim=1)}

    act = step


@register
class EpsilonGreedy(Node, Acting):
    """Acts greedily, except with probability epsilon a uniformly random action.

    Epsilon decays from `start` to `end` over `decay_steps` (linearly or
    exponentially), counted in ticks like every trigger and schedule (`unit: ticks`, the
    default), in env steps of all envs (`unit: env_steps`: num_envs per tick), or in
    finished episodes (`unit: episodes`, which needs `episode_end` wired to the env's
    `episode_end`). In evaluation it acts greedily.
    """

    act_mode = "greedy"

    inputs = {
        "obs": In(Kind.TENSOR, "observations, one row per env"),
        "q": In(Kind.MODULE, "the Q-network that scores actions", role="q"),
        "episode_end": In(Kind.EVENT, "finished episodes; counted when unit is 'episodes'",
                          optional=True),
    }
    outputs = {
        "action": Out(Kind.TENSOR, "chosen actions, (num_envs,) int64"),
        "epsilon": Out(Kind.SCALAR, "the exploration rate used this tick"),
    }
    params = {
        "start": Param(float, 1.0, "epsilon at the beginning", low=0.0, high=1.0),
        "end": Param(float, 0.05, "epsilon after the decay", low=0.0, high=1.0),
        "decay_steps": Param(int, 10000, "linear: ticks (or units) from start to end; "
                             "exponential: ticks (or units) over which the gap to end "
                             "shrinks by e", low=1),
        "schedule": Param(str, "linear", "shape of the decay", choices=tuple(SCHEDULES)),
        "unit": Param(str, "ticks", "what decay_steps counts: ticks (as triggers do), "
                      "env_steps (num_envs per tick) or episodes",
                      choices=("ticks", "env_steps", "episodes")),
    }

    start: float
    end: float
    decay_steps: int
    schedule: str
    unit: str

    def setup(self, q: nn.Module) -> None:
        self.q = q
        # numpy draws: a fraction of a torch generator call's cost, and drawn on the
        # CPU whatever the device, so the same seed explores the same way everywhere
        self.rng = np.random.default_rng(self.seed)
        self.count = 0  # ticks, env steps or finished episodes so far, as `unit` says
        self._epsilon_at = SCHEDULES[self.schedule]
        self.epsilon = self.start
        self._epsilon_count = -1  # the count self.epsilon was computed for

    def step(self, obs: torch.Tensor, episode_end: Episodes | None = None
             ) -> dict[str, Any]:
        if self.unit == "ticks":
            self.count = self.clock.tick
        elif self.unit == "episodes" and episode_end is not None:
            self.count += len(episode_end.returns)
        if self.count != self._epsilon_count:  # episodes: most ticks keep epsilon
            self.epsilon = self._epsilon_at(self.start, self.end, self.decay_steps,
                                            self.count)
            self._epsilon_count = self.count
        eps = self.epsilon
        with torch.inference_mode():
            q_values = self.q(obs)
            action = q_values.argmax(dim=1)
        n_envs, n_actions = q_values.shape
        # one uniform draw per env; the envs that explore then draw their action
        if n_envs == 1:  # a scalar draw: the same number as random(1), at half the cost
            explore = [0] if self.rng.random() < eps else []
        else:
            explore = [i for i, u in enumerate(self.rng.random(n_envs).tolist()) if u < eps]
        if explore:  # usually no env explores: the greedy actions are the answer
            chosen = action.cpu().numpy().copy()
            chosen[explore] = self.rng.integers(n_actions, size=len(explore))
            action = torch.from_numpy(chosen).to(action.device)
        if self.unit == "env_steps":
            self.count += n_envs
        return {"action": action, "epsilon": eps}

    def act(self, obs: torch.Tensor, episode_end: Episodes | None = None
            ) -> dict[str, torch.Tensor]:
        """The greedy action: no exploration, no random draw, epsilon unchanged."""
        with torch.inference_mode():
            return {"action": self.q(obs).argmax(dim=1)}

    def report(self) -> dict[str, float]:
        return {"epsilon": self.epsilon}

    def state_dict(self) -> dict[str, Any]:
        return {"count": self.count, "epsilon": self.epsilon,
                "rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.count = saved.count(state, "count")
        self.epsilon = saved.number(state, "epsilon", 0.0, 1.0)
        self._epsilon_count = -1
        self.rng.bit_generator.state = state["rng"]


@register
class UniformWarmup(Node, Acting):
    """Acts uniformly at random while the policy after it is silent, then passes it on.

    Wire the env's action from here and this node's `action` from the learned policy,
    which you give `after: N` (SB3's learning_starts): for the first N ticks the env
    takes uniformly random actions from its own space (this node's seeded generator),
    after that the policy's. Any action space gymnasium can sample. In evaluation it
    passes the policy's action on.
    """

    act_mode = "pass"

    inputs = {
        "spec": In(Kind.SPEC, "the env's spaces: what to sample"),
        "action": In(Kind.TENSOR, "the learned policy's actions, absent while it waits",
                     optional=True),
    }
    outputs = {"action": Out(Kind.TENSOR, "the actions the env takes, one row per env")}

    def setup(self, spec: EnvSpec) -> None:
        self.spec = spec
        self.space = copy.deepcopy(spec.action_space)
        self.space.seed(self.seed)
        self.random_ticks = 0

    def step(self, action: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        if action is not None:
            return {"action": action}
        self.random_ticks += 1
        sampled = np.stack([self.space.sample() for _ in range(self.spec.num_envs)])
        return {"action": torch.from_numpy(sampled)}

    def act(self, action: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """The policy's action: evaluation never explores at random."""
        if action is None:
            self.fail("evaluation found no action from the policy before UniformWarmup",
                      port="action", hint="wire action from the learned policy")
        return {"action": action}

    def report(self) -> dict[str, float]:
        return {"random_ticks": self.random_ticks}

    def state_dict(self) -> dict[str, Any]:
        return {"rng": self.space.np_random.bit_generator.state,
                "random_ticks": self.random_ticks}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.space.np_random.bit_generator.state = state["rng"]
        self.random_ticks = state["random_ticks"]
