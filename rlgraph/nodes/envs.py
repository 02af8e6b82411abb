"""Environments: gymnasium vector envs as graph nodes, and transforms of their output."""

from __future__ import annotations

import pickle
import time
from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import AutoresetMode

from rlgraph.core import REQUIRED, In, Kind, Node, Out, Param, register

from .data import EnvSpec, Episodes, Transition


@register
class GymEnv(Node):
    """Steps `num_envs` copies of a gymnasium environment, one env step each per tick.

    On its first firing (no action yet) it resets and emits the first observations.
    After that every firing takes one action per env and emits the next observations,
    the transitions, and an `episode_end` event on ticks where episodes ended.

    Finished envs are reset within the same step (gymnasium's SAME_STEP autoreset), so a
    transition's `next_obs` is always the observation its action led to: no transition
    crosses an episode boundary. `terminated` (the MDP ended) and `truncated` (a time
    limit cut it) stay apart so that losses bootstrap through truncation.
    Observations are float32 tensors of shape (num_envs, *obs_shape).
    """

    inputs = {
        "action": In(Kind.TENSOR, "one action per env, usually {from: policy.action, "
                     "delay: 1}; absent -> no step (reset on the first firing)", optional=True),
    }
    outputs = {
        "obs": Out(Kind.TENSOR, "current observations, (num_envs, *obs_shape) float32"),
        "transition": Out(Kind.TRANSITION, "obs, action, reward, next_obs, terminated, "
                          "truncated of the step just taken", warn_unconnected=True),
        "episode_end": Out(Kind.EVENT, "returns and lengths of the episodes that ended "
                           "this tick; absent on other ticks"),
        "spec": Out(Kind.SPEC, "observation and action spaces, num_envs"),
    }
    params = {
        "id": Param(str, REQUIRED, "gymnasium environment id, e.g. CartPole-v1"),
        "num_envs": Param(int, 1, "environments stepped side by side", low=1),
        "kwargs": Param(dict, {}, "keyword arguments for gymnasium.make "
                        "(e.g. max_episode_steps)"),
    }

    id: str
    num_envs: int
    kwargs: dict[str, Any]

    def setup(self) -> dict[str, Any]:
        try:
            self.env = gym.make_vec(
                self.id, num_envs=self.num_envs, vectorization_mode="sync",
                vector_kwargs={"autoreset_mode": AutoresetMode.SAME_STEP}, **self.kwargs)
        except (gym.error.Error, TypeError) as exc:
            self.fail(f"cannot make gymnasium env '{self.id}': {exc}",
                      hint="check the id (gymnasium.pprint_registry() lists them) and kwargs")
        self.spec = EnvSpec(self.id, self.env.single_observation_space,
                            self.env.single_action_space, self.num_envs)
        self._discrete = self.spec.n_actions is not None
        self._obs: torch.Tensor | None = None
        self._return = np.zeros(self.num_envs, dtype=np.float64)
        self._length = np.zeros(self.num_envs, dtype=np.int64)
        self.env_steps = 0
        self.episodes = 0
        self._started: float | None = None  # when this process began stepping
        self._steps_at_start = 0
        return {"spec": self.spec}

    def step(self, action: torch.Tensor | None = None) -> dict[str, Any]:
        if self._obs is None:
            obs, _ = self.env.reset(seed=self.seed)
            self._obs = _as_obs(obs)
            self._started = time.perf_counter()
            return {"obs": self._obs}
        if action is None:  # the policy did not act this tick: hold
            return {"obs": self._obs}
        act = action.detach().cpu().numpy()
        next_obs, reward, terminated, truncated, info = self.env.step(act)
        current = _as_obs(next_obs)
        final = current  # what each action led to; no node modifies tensors in place
        if "_final_obs" in info:  # rows whose episode ended: the reset obs replaced them
            final = current.clone()
            for i in np.flatnonzero(info["_final_obs"]):
                final[i] = torch.as_tensor(info["final_obs"][i], dtype=torch.float32)
        transition = Transition(
            obs=self._obs,
            action=torch.as_tensor(act, dtype=torch.int64 if self._discrete else None),
            reward=torch.tensor(reward, dtype=torch.float32),
            next_obs=final,
            terminated=torch.tensor(terminated, dtype=torch.bool),
            truncated=torch.tensor(truncated, dtype=torch.bool))
        self._obs = current
        self.env_steps += self.num_envs
        self._return += reward
        self._length += 1
        out: dict[str, Any] = {"obs": self._obs, "transition": transition}
        done = terminated | truncated
        if done.any():
            ended = np.flatnonzero(done)
            out["episode_end"] = Episodes(
                returns=self._return[ended].tolist(), lengths=self._length[ended].tolist(),
                env_index=ended.tolist(), env_steps=self.env_steps)
            self.episodes += len(ended)
            self._return[ended] = 0.0
            self._length[ended] = 0
        return out

    def report(self) -> dict[str, float]:
        elapsed = time.perf_counter() - self._started if self._started else 0.0
        steps = self.env_steps - self._steps_at_start
        return {"env_steps": self.env_steps,
                "steps_per_s": steps / elapsed if elapsed > 0 else 0.0}

    def state_dict(self) -> dict[str, Any]:
        try:
            # the sub-envs hold all the state; the vector wrapper only its buffers
            envs = pickle.dumps(self.env.envs)
        except Exception as exc:  # an env holding a window or a process
            raise RuntimeError(f"GymEnv '{self.name}': env '{self.id}' cannot be saved "
                               f"({type(exc).__name__}: {exc})") from exc
        return {"env": envs, "obs": None if self._obs is None else self._obs.clone(),
                "return": self._return.copy(), "length": self._length.copy(),
                "env_steps": self.env_steps, "episodes": self.episodes}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        for sub in self.env.envs:
            sub.close()
        self.env.envs = pickle.loads(state["env"])
        self._obs = None if state["obs"] is None else state["obs"].clone()
        self._return = state["return"].copy()
        self._length = state["length"].copy()
        self.env_steps = state["env_steps"]
        self.episodes = state["episodes"]
        self._started = time.perf_counter() if self._obs is not None else None
        self._steps_at_start = self.env_steps

    def close(self) -> None:
        self.env.close()


def _as_obs(obs: np.ndarray) -> torch.Tensor:
    # a copy: vector envs may reuse their observation arrays
    return torch.tensor(obs, dtype=torch.float32)


@register
class ScaleReward(Node):
    """Multiplies transition rewards by a constant (the seed notebook's r / 100).

    Episode returns, which the env reports, are left untouched."""

    inputs = {"transition": In(Kind.TRANSITION, "transitions to rescale")}
    outputs = {"transition": Out(Kind.TRANSITION, "the same transitions, reward * scale")}
    params = {"scale": Param(float, REQUIRED, "factor applied to every reward")}

    scale: float

    def step(self, transition: Transition) -> dict[str, Transition]:
        return {"transition": transition._replace(reward=transition.reward * self.scale)}
