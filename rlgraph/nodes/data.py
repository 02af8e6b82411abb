"""The values that flow along edges: env spec, transitions, batches, finished episodes.

Transitions and batches are records of named tensors with one row per environment
(transitions) or per sample (batches), so a graph runs the same with `num_envs: 1` and
`num_envs: 16`. A record holds whatever fields the nodes that made it put there: a node
adds a field by returning `record.replace(log_prob=...)`, and a node package needs no
change here for fields of its own (log-probabilities, values, advantages, returns, ...).
"""

from __future__ import annotations

from collections.abc import ItemsView, Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, NamedTuple, TypeVar

import gymnasium as gym
import numpy as np
import torch

R = TypeVar("R", bound="Record")


class Record(SimpleNamespace):
    """Named fields, each a tensor with one row per env or sample (or None).

    Build it with keywords: `Transition(obs=..., action=..., ...)`. Fields a subclass
    documents as optional read as None when a record lacks them (`batch.weights`);
    any other field can be added (`record.replace(value=v)` returns a new record with
    it), and reading a field nobody added is an AttributeError naming it. Records are
    values on wires: a node never changes one it received or emitted, it builds a new
    one (building and reading cost what a NamedTuple's do; tools/bench_speedups.py).
    """

    def replace(self: R, **changes: Any) -> R:
        """A new record of the same class with some fields set (or added)."""
        return type(self)(**{**self.__dict__, **changes})

    # the NamedTuple spelling, which custom nodes written for rlgraph 0.1 use
    _replace = replace

    def fields(self) -> dict[str, Any]:
        """Field name -> value of the fields this record holds (None values included)."""
        return dict(self.__dict__)

    def present(self) -> tuple[str, ...]:
        """Names of the fields that hold a value (not None), in the order they were set."""
        return tuple(k for k, v in self.__dict__.items() if v is not None)

    def get(self, name: str, default: Any = None) -> Any:
        """A field's value, or `default` when the record has no such field."""
        return getattr(self, name, default)

    def items(self) -> ItemsView[str, Any]:
        """(name, value) of every field, in the order they were set."""
        return self.__dict__.items()

    def rows(self: R, index: torch.Tensor | slice) -> R:
        """The given rows (an index tensor, a boolean mask or a slice) of every field."""
        return type(self)(**{k: None if v is None else v[index]
                             for k, v in self.__dict__.items()})

    @classmethod
    def concat(cls: type[R], records: Sequence[R]) -> R:
        """One record holding the rows of several, in order; the records must hold the
        same fields (fields None in all stay None)."""
        names = list(records[0].__dict__)
        return cls(**{k: None if records[0].__dict__[k] is None
                      else torch.cat([r.__dict__[k] for r in records]) for k in names})


class Transition(Record):
    """One env step of every environment; row i belongs to env i.

    Fields every transition has: obs (rows, *obs_shape) float32; action (rows,) int64 for
    Discrete actions or (rows, *action_shape) float32 for Box actions (as the policy
    chose it, before the env clipped it to its bounds); reward (rows,) float32;
    next_obs, the observation the action led to, also when the episode ended there
    (the final observation, never the first one of the next episode); terminated
    (rows,) bool: the MDP ended, do not bootstrap; truncated (rows,) bool: a time limit
    cut it, bootstrap.

    Optional fields (None when absent): `steps`, for an n-step transition (from NStep)
    spanning k <= n env steps, (rows,) int64 = k, with `reward` then holding the k
    rewards zero-padded to (rows, n). The discount stays with the loss (its `gamma`),
    so one number sets it for every kind of transition. Other nodes add fields of
    their own (a policy's log_prob and value, say).
    """

    steps: torch.Tensor | None = None


class Batch(Transition):
    """Transitions sampled for learning: a Transition's fields plus `indices`, their
    slots in the buffer, and `weights`, importance-sampling weights (prioritized
    replay) that losses apply to their per-sample losses; None means all ones."""

    indices: torch.Tensor | None = None
    weights: torch.Tensor | None = None


class Rollout(Record):
    """T steps of N envs in time order, for on-policy learning: every field is
    (T, N, ...). Besides a Transition's fields it holds what the policy said when it
    acted: `log_prob` (T, N) of the action taken and `value` (T, N) of obs; GAE adds
    `advantage` and `return` (T, N). `rows()` of a rollout are rows of time steps;
    `flat()` is the same data as a Batch of T x N rows, time-major."""

    steps: torch.Tensor | None = None

    def flat(self) -> Batch:
        """The rollout as one batch of T x N rows (row t * N + n is env n at step t)."""
        return Batch(**{k: None if v is None else v.reshape(-1, *v.shape[2:])
                        for k, v in self.__dict__.items()})


@dataclass(frozen=True)
class EnvSpec:
    """What a network or a policy needs to know about an environment, fixed at build.

    Discrete and Box action spaces are described alike: `discrete`, `n_actions` (None
    for Box), `action_shape` (() for Discrete), and for Box `action_low` and
    `action_high` (float32 arrays of action_shape)."""

    id: str
    observation_space: gym.Space
    action_space: gym.Space
    num_envs: int

    @property
    def obs_shape(self) -> tuple[int, ...]:
        return tuple(self.observation_space.shape or ())

    @property
    def obs_size(self) -> int:
        """Number of observation features once flattened."""
        return int(np.prod(self.obs_shape)) if self.obs_shape else 1

    @property
    def discrete(self) -> bool:
        """Whether actions are indices of a Discrete space."""
        return isinstance(self.action_space, gym.spaces.Discrete)

    @property
    def continuous(self) -> bool:
        """Whether actions are arrays of a Box space."""
        return isinstance(self.action_space, gym.spaces.Box)

    @property
    def n_actions(self) -> int | None:
        """Number of discrete actions, or None when the action space is not Discrete."""
        if isinstance(self.action_space, gym.spaces.Discrete):
            return int(self.action_space.n)
        return None

    @property
    def action_shape(self) -> tuple[int, ...]:
        """Shape of one env's action: () for Discrete, the Box's shape for Box."""
        return tuple(self.action_space.shape or ())

    @property
    def action_size(self) -> int:
        """Number of action numbers once flattened (1 for Discrete)."""
        return int(np.prod(self.action_shape)) if self.action_shape else 1

    @property
    def action_low(self) -> np.ndarray | None:
        """Lower bounds of a Box action (float32, action_shape); None otherwise."""
        if isinstance(self.action_space, gym.spaces.Box):
            return np.asarray(self.action_space.low, dtype=np.float32)
        return None

    @property
    def action_high(self) -> np.ndarray | None:
        """Upper bounds of a Box action (float32, action_shape); None otherwise."""
        if isinstance(self.action_space, gym.spaces.Box):
            return np.asarray(self.action_space.high, dtype=np.float32)
        return None

    def describe_actions(self) -> str:
        """The action space in a few words, for errors: 'Discrete(2)', 'Box(1,) in
        [-2, 2]'."""
        if self.discrete:
            return f"Discrete({self.n_actions})"
        if self.continuous:
            low, high = self.action_low, self.action_high
            assert low is not None and high is not None
            bounds = (f" in [{low.min():g}, {high.max():g}]" if np.all(low == low.min())
                      and np.all(high == high.max()) else "")
            return f"Box{self.action_shape}{bounds}"
        return str(self.action_space)


class Episodes(NamedTuple):
    """The episodes that ended on one tick (usually one; several with num_envs > 1)."""

    returns: list[float]  # undiscounted sum of the env's own rewards
    lengths: list[int]
    env_index: list[int]  # which env each episode ran in
    env_steps: int  # env steps taken by all envs so far, these included
