"""Environments: gymnasium envs as graph nodes, and transforms of their output."""

from __future__ import annotations

import functools
import time
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from rlgraph.core import (
    REQUIRED,
    Environment,
    GraphWarning,
    In,
    Kind,
    Node,
    NodeConfigError,
    Out,
    Param,
    register,
)

from .data import EnvSpec, Episodes, Transition
from .device import torch_device
from .envstate import EnvStateError, load_env, save_env

#: envs one node steps side by side in a Python loop: far more than any CPU keeps busy
MAX_ENVS = 65_536


class GymEvalEnvs:
    """Fresh copies of a gymnasium env for evaluation, stepped side by side (a sync vector
    env, one episode in each), seeded seed, seed + 1, ...; observations as float32
    tensors on `device`, actions handled as GymEnv handles them (Box actions clipped)."""

    def __init__(self, spec: EnvSpec, kwargs: Mapping[str, Any], episodes: int, seed: int,
                 device: torch.device) -> None:
        self.num_envs = episodes
        self.seed = seed
        self.device = device
        self.spec = spec
        self.env = gym.make_vec(spec.id, num_envs=episodes, vectorization_mode="sync",
                                **dict(kwargs))

    def reset(self) -> torch.Tensor:
        obs, _ = self.env.reset(seed=self.seed)
        return self._obs(obs)

    def step(self, action: torch.Tensor) -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
        act = action.detach().cpu().numpy()
        if self.spec.discrete:
            act = act.astype(np.int64, copy=False)
        else:
            act = np.clip(act.astype(np.float32, copy=False), self.spec.action_low,
                          self.spec.action_high)
        obs, reward, terminated, truncated, _ = self.env.step(act)
        return self._obs(obs), np.asarray(reward, dtype=np.float64), terminated | truncated

    def _obs(self, obs: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.asarray(obs, dtype=np.float32), device=self.device)

    def render(self) -> np.ndarray | None:
        """The first env's frame (made with render_mode='rgb_array': an RGB array)."""
        frames: Any = self.env.render()  # a tuple: one frame per env
        return frames[0] if frames else None

    def close(self) -> None:
        self.env.close()


@register
class GymEnv(Node, Environment):
    """Steps `num_envs` copies of a gymnasium environment, one env step each per tick.

    On its first firing (no action yet) it resets and emits the first observations.
    After that every firing takes one action per env and emits the next observations,
    the transitions, and an `episode_end` event on ticks where episodes ended.

    Finished envs are reset within the same step (gymnasium's SAME_STEP autoreset), so a
    transition's `next_obs` is always the observation its action led to: no transition
    crosses an episode boundary. `terminated` (the MDP ended) and `truncated` (a time
    limit cut it) stay apart so that losses bootstrap through truncation.
    Observations are float32 tensors of shape (num_envs, *obs_shape), on the graph's
    device; actions may come on any device. Discrete actions are (num_envs,) indices;
    Box actions (num_envs, *action_shape) are clipped to the space's bounds before the
    env steps, and the transition keeps the action as the policy chose it (the
    unclipped one, whose log-probability a loss may need). Env i is seeded with seed + i, as
    gymnasium's SyncVectorEnv does; the envs are stepped by a plain loop, which costs
    less per step than the vector env wrapper.
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
        "num_envs": Param(int, 1, "environments stepped side by side", low=1,
                          high=MAX_ENVS),
        "kwargs": Param(dict, {}, "keyword arguments for gymnasium.make "
                        "(e.g. max_episode_steps)"),
    }

    id: str
    num_envs: int
    kwargs: dict[str, Any]

    def setup(self) -> dict[str, Any]:
        self.envs: list[gym.Env] = []
        try:
            observation_space, action_space = self.make_envs()
        except Exception as exc:  # an unknown id, a module `mod:Env-v0` names that is
            self.close()          # missing, kwargs the env's constructor refuses, ...
            what = str(exc) if isinstance(exc, gym.error.Error) \
                else f"{type(exc).__name__}: {exc}"
            self.fail(f"cannot make gymnasium env '{self.id}': {what}",
                      hint="check the id (gymnasium.pprint_registry() lists them; "
                           "'module:Env-v0' imports module first) and kwargs")
        self.spec = EnvSpec(self.id, observation_space, action_space, self.num_envs)
        self._discrete = self.spec.discrete
        if not (self.spec.discrete or self.spec.continuous):
            self.close()
            self.fail(f"env '{self.id}' has action space {self.spec.action_space}; GymEnv "
                      f"steps Discrete and Box action spaces",
                      hint="wrap the env so that its actions are Discrete or Box")
        self._low, self._high = self.spec.action_low, self.spec.action_high
        self._device = torch_device(self)
        # a plain tensor on the device from an array; on the CPU the array's own memory
        # (nothing writes into an emitted tensor), also when it came from an inference
        # tensor
        self._tensor: Callable[[np.ndarray], torch.Tensor] = (
            torch.from_numpy if self._device.type == "cpu" else self._on_device)
        self._obs_shape = (self.num_envs, *self.spec.obs_shape)
        self._obs: torch.Tensor | None = None
        self._return = [0.0] * self.num_envs  # of each env's running episode
        self._length = [0] * self.num_envs
        self._no_flags = torch.zeros(self.num_envs, dtype=torch.bool, device=self._device)
        self.env_steps = 0
        self.episodes = 0
        self._started: float | None = None  # when this process began stepping
        self._steps_at_start = 0
        return {"spec": self.spec}

    def make_envs(self) -> tuple[gym.Space, gym.Space]:
        """Make the envs (here: num_envs in this process); their spaces."""
        for _ in range(self.num_envs):
            self.envs.append(gym.make(self.id, **self.kwargs))
        return self.envs[0].observation_space, self.envs[0].action_space

    def reset_envs(self) -> np.ndarray:
        """Reset every env, env i seeded seed + i; the first observations."""
        obs = np.empty(self._obs_shape, dtype=np.float32)
        for i, env in enumerate(self.envs):
            obs[i], _ = env.reset(seed=self.seed + i)
        return obs

    def step_envs(self, act: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[int],
                                                 list[Any], list[tuple[bool, bool]]]:
        """One step of every env: observations (after a reset where an episode ended),
        rewards (float64, as the envs gave them), and for the envs whose episode ended:
        which, their final observations, their (terminated, truncated)."""
        obs = np.empty(self._obs_shape, dtype=np.float32)
        reward = np.empty(self.num_envs, dtype=np.float64)
        ended: list[int] = []
        finals: list[Any] = []  # the final observation of each ended episode
        flags: list[tuple[bool, bool]] = []  # and its terminated, truncated
        # numpy scalars, as SyncVectorEnv passes them (Discrete.contains checks those
        # faster than Python ints)
        for i, (env, a) in enumerate(zip(self.envs, act)):
            o, r, term, trunc, _ = env.step(a)
            reward[i] = r
            if term or trunc:  # keep what the action led to, then start anew
                ended.append(i)
                finals.append(o)
                flags.append((term, trunc))
                o, _ = env.reset()
            obs[i] = o
        return obs, reward, ended, finals, flags

    def step(self, action: torch.Tensor | None = None) -> dict[str, Any]:
        if self._obs is None:
            self._obs = self._tensor(self.reset_envs())
            self._started = time.perf_counter()
            return {"obs": self._obs}
        if action is None:  # the policy did not act this tick: hold
            return {"obs": self._obs}
        if action.requires_grad:
            action = action.detach()
        act = action.numpy() if action.is_cpu else action.cpu().numpy()
        stored = act  # what the transition records: the action as the policy chose it
        if self._discrete:
            if act.dtype != np.int64:
                stored = act = act.astype(np.int64)
        else:  # Box: the policy's action, stepped clipped to the env's bounds
            stored = act.astype(np.float32, copy=False)
            act = np.clip(stored, self._low, self._high)
        obs, reward, ended, finals, flags = self.step_envs(act)
        returns, lengths = self._return, self._length
        for i, r in enumerate(reward.tolist()):  # episode returns: float64 sums
            returns[i] += r
            lengths[i] += 1
        current = self._tensor(obs)
        if ended:
            next_obs = obs.copy()
            for i, o in zip(ended, finals):  # (a list of arrays as a fancy index
                next_obs[i] = o                # value costs ~50 us of conversion)
            final = self._tensor(next_obs)
            terminated = np.zeros(self.num_envs, dtype=np.bool_)
            truncated = np.zeros(self.num_envs, dtype=np.bool_)
            terminated[ended], truncated[ended] = zip(*flags)
            term_t, trunc_t = self._tensor(terminated), self._tensor(truncated)
        else:  # the usual tick: no flags set, one shared all-False tensor
            final = current  # what each action led to; no node modifies tensors in place
            term_t = trunc_t = self._no_flags
        transition = Transition(obs=self._obs, action=self._tensor(stored),
                                reward=self._tensor(reward.astype(np.float32)), next_obs=final,
                                terminated=term_t, truncated=trunc_t)
        self._obs = current
        self.env_steps += self.num_envs
        out: dict[str, Any] = {"obs": current, "transition": transition}
        if ended:
            out["episode_end"] = Episodes(
                returns=[returns[i] for i in ended], lengths=[lengths[i] for i in ended],
                env_index=ended, env_steps=self.env_steps)
            self.episodes += len(ended)
            for i in ended:
                returns[i], lengths[i] = 0.0, 0
        return out

    @property
    def env_id(self) -> str:
        return self.id

    @property
    def reward_threshold(self) -> float | None:
        """gymnasium's `spec.reward_threshold` for the env (475 for CartPole-v1)."""
        spec = self.envs[0].spec if self.envs else None
        threshold = spec.reward_threshold if spec is not None else None
        return float(threshold) if threshold is not None else None

    def eval_envs(self, episodes: int, seed: int,
                  options: Mapping[str, Any] | None = None) -> GymEvalEnvs:
        """Fresh copies made with this node's kwargs, updated by `options`."""
        return GymEvalEnvs(self.spec, {**self.kwargs, **(options or {})}, episodes, seed,
                           self._device)

    def _on_device(self, array: np.ndarray) -> torch.Tensor:
        """A plain tensor on the graph's (non-CPU) device from `array`."""
        return torch.from_numpy(array).to(self._device)

    def report(self) -> dict[str, float]:
        elapsed = time.perf_counter() - self._started if self._started else 0.0
        steps = self.env_steps - self._steps_at_start
        return {"env_steps": self.env_steps,
                "steps_per_s": steps / elapsed if elapsed > 0 else 0.0}

    def state_dict(self) -> dict[str, Any]:
        """The envs as data where their family has a state adapter (envstate), else as
        pickles; the episode bookkeeping (returns, lengths, the current observations)."""
        try:
            envs = self.save_envs()
        except Exception as exc:  # an env holding a window or a process
            raise NodeConfigError(f"env '{self.id}' cannot be saved in a checkpoint "
                                  f"({type(exc).__name__}: {exc})", node=self.name,
                                  hint="a run checkpoints at its end and on Ctrl-C; use "
                                       "an env that pickles (no open window, socket or "
                                       "process), or register a state adapter for it "
                                       "(rlgraph.nodes.envstate)") from exc
        return {"envs": envs, "obs": None if self._obs is None else self._obs.cpu().clone(),
                "return": np.array(self._return, dtype=np.float64),
                "length": np.array(self._length, dtype=np.int64),
                "env_steps": self.env_steps, "episodes": self.episodes}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Load into the envs setup() made from the graph's id (a checkpoint's content is
        checked, never trusted: EnvStateError or UnsafePickle when it does not fit)."""
        n = self.num_envs
        envs, obs = state["envs"], state["obs"]
        if not isinstance(envs, list) or len(envs) != n:
            raise EnvStateError(f"the checkpoint holds {_count(envs)} envs, the graph has "
                                f"num_envs: {n}")
        if obs is not None and (not isinstance(obs, torch.Tensor)
                                or tuple(obs.shape) != self._obs_shape
                                or obs.dtype != torch.float32):
            raise EnvStateError(f"saved observations are not float32 of shape "
                                f"{self._obs_shape}")
        returns, lengths = np.asarray(state["return"]), np.asarray(state["length"])
        if returns.shape != (n,) or lengths.shape != (n,) or returns.dtype.kind != "f" \
                or lengths.dtype.kind not in "iu" or (lengths < 0).any():
            raise EnvStateError("saved episode returns or lengths are damaged")
        env_steps, episodes = state["env_steps"], state["episodes"]
        for value in (env_steps, episodes):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise EnvStateError(f"saved step or episode count {value!r} is damaged")
        self.load_envs(envs)
        self._obs = None if obs is None else obs.to(self._device, copy=True)
        self._return = [float(r) for r in returns]
        self._length = [int(x) for x in lengths]
        self.env_steps = env_steps
        self.episodes = episodes
        self._started = time.perf_counter() if self._obs is not None else None
        self._steps_at_start = self.env_steps

    def save_envs(self) -> list[Any]:
        """Every env's state (envstate: as data, or a pickle)."""
        return [save_env(env) for env in self.envs]

    def load_envs(self, saved: list[Any]) -> None:
        """Load saved env states (checked) into the envs setup() made."""
        loaded = [load_env(env, state) for env, state in zip(self.envs, saved)]
        for old, new in zip(self.envs, loaded):
            if new is not old:
                old.close()
        self.envs = loaded

    def close(self) -> None:
        for env in self.envs:
            env.close()


@register
class AsyncGymEnv(GymEnv):
    """GymEnv with its envs stepped in worker processes, side by side (for slow envs).

    The same outputs as GymEnv for the same seed and actions (gymnasium's
    AsyncVectorEnv with same-step resets: a transition's next_obs is still the final
    observation of its episode), at the cost of a message per tick to every worker, so
    it pays only where an env's step costs far more than that (a simulator, a remote
    env). The envs live in other processes, so checkpoints cannot hold their state: a
    run resumed from one restarts their episodes (new resets), and says so.
    """

    def make_envs(self) -> tuple[gym.Space, gym.Space]:
        make = functools.partial(gym.make, self.id, **self.kwargs)
        self.vector = gym.vector.AsyncVectorEnv(
            [make] * self.num_envs, autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
        return self.vector.single_observation_space, self.vector.single_action_space

    def reset_envs(self) -> np.ndarray:
        """Env i seeded seed + i at the start (as GymEnv); after a resume, offset by the
        env steps taken, so that the new episodes are not the first ones again."""
        first = self.seed + self.env_steps
        obs, _ = self.vector.reset(seed=[first + i for i in range(self.num_envs)])
        return np.asarray(obs, dtype=np.float32)

    def step_envs(self, act: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[int],
                                                 list[Any], list[tuple[bool, bool]]]:
        obs, reward, terminated, truncated, info = self.vector.step(act)
        ended = np.flatnonzero(terminated | truncated).tolist()
        finals = [info["final_obs"][i] for i in ended]
        flags = [(bool(terminated[i]), bool(truncated[i])) for i in ended]
        return (np.asarray(obs, dtype=np.float32), np.asarray(reward, dtype=np.float64),
                ended, finals, flags)

    def state_dict(self) -> dict[str, Any]:
        """The episode bookkeeping only: the envs' state stays in their processes."""
        state = super().state_dict()
        return {**state, "obs": None, "return": np.zeros(self.num_envs),
                "length": np.zeros(self.num_envs, dtype=np.int64)}

    def save_envs(self) -> list[Any]:
        return [None] * self.num_envs

    def load_envs(self, saved: list[Any]) -> None:
        if any(s is not None for s in saved):
            raise EnvStateError("the checkpoint holds envs saved in this process, but "
                                "AsyncGymEnv runs them in worker processes")
        warnings.warn(GraphWarning(
            f"the envs of '{self.id}' ran in worker processes, so the checkpoint holds "
            f"no state of them: the resumed run starts their episodes anew (it is not "
            f"exact)", node=self.name), stacklevel=2)

    def close(self) -> None:
        if hasattr(self, "vector"):
            self.vector.close()


def _count(value: Any) -> str:
    return str(len(value)) if isinstance(value, list) else "no list of"


@register
class ScaleReward(Node):
    """Multiplies transition rewards by a constant (the seed notebook's r / 100).

    Episode returns, which the env reports, are left untouched."""

    inputs = {"transition": In(Kind.TRANSITION, "transitions to rescale")}
    outputs = {"transition": Out(Kind.TRANSITION, "the same transitions, reward * scale")}
    params = {"scale": Param(float, REQUIRED, "factor applied to every reward")}

    scale: float

    def setup(self) -> None:
        # the factor as a 0-dim tensor of the rewards' dtype: the same product as with
        # the Python float, at half the cost (torch wraps a Python scalar on every call)
        self._factor: dict[torch.dtype, torch.Tensor] = {}

    def step(self, transition: Transition) -> dict[str, Transition]:
        reward = transition.reward
        factor = self._factor.get(reward.dtype)
        if factor is None:
            factor = self._factor[reward.dtype] = torch.tensor(self.scale, dtype=reward.dtype)
        return {"transition": transition.replace(reward=reward * factor)}
