"""The values that flow along the DQN family's edges: env spec, transitions, batches,
finished episodes.

Tensors carry one row per environment (transitions) or per sample (batches), so a graph
runs the same with `num_envs: 1` and `num_envs: 16`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import gymnasium as gym
import numpy as np
import torch


@dataclass(frozen=True)
class EnvSpec:
    """What a network or a policy needs to know about an environment, fixed at build."""

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
    def n_actions(self) -> int | None:
        """Number of discrete actions, or None when the action space is not Discrete."""
        if isinstance(self.action_space, gym.spaces.Discrete):
            return int(self.action_space.n)
        return None


class Transition(NamedTuple):
    """One env step of every environment; row i belongs to env i.

    next_obs is the observation the action led to, also when the episode ended there
    (the final observation, never the first one of the next episode).

    An n-step transition (from NStep) spans k <= n env steps: `reward` then holds the k
    rewards of the steps, zero-padded to n columns, and `steps` holds k. The discount
    stays with the loss (its `gamma`), so one number sets it for every kind of transition.
    """

    obs: torch.Tensor  # (rows, *obs_shape) float32
    action: torch.Tensor  # (rows,) int64 for discrete actions
    reward: torch.Tensor  # (rows,) float32; (rows, n) for n-step transitions
    next_obs: torch.Tensor  # (rows, *obs_shape) float32
    terminated: torch.Tensor  # (rows,) bool: the MDP ended; do not bootstrap
    truncated: torch.Tensor  # (rows,) bool: cut by a time limit; bootstrap
    steps: torch.Tensor | None = None  # (rows,) int64: env steps spanned; None: one each


#: Transition fields that may be None (absent for plain one-step transitions).
OPTIONAL_FIELDS = ("steps",)


class Batch(NamedTuple):
    """Transitions sampled for learning; `indices` are their slots in the buffer.

    `weights` are importance-sampling weights (prioritized replay), which losses apply
    to their per-sample losses; None means all ones.
    """

    obs: torch.Tensor
    action: torch.Tensor
    reward: torch.Tensor
    next_obs: torch.Tensor
    terminated: torch.Tensor
    truncated: torch.Tensor
    indices: torch.Tensor
    steps: torch.Tensor | None = None
    weights: torch.Tensor | None = None


def batch_rows(batch: Batch, rows: torch.Tensor) -> Batch:
    """The given rows of a batch (an index tensor, a boolean mask or a slice), every
    field."""
    return Batch(*(None if v is None else v[rows] for v in batch))


def concat_batches(batches: list[Batch]) -> Batch:
    """One batch holding the rows of several, in order (fields None in all stay None)."""
    fields = zip(*batches)
    return Batch(*(None if values[0] is None else torch.cat(values) for values in fields))


class Episodes(NamedTuple):
    """The episodes that ended on one tick (usually one; several with num_envs > 1)."""

    returns: list[float]  # undiscounted sum of the env's own rewards
    lengths: list[int]
    env_index: list[int]  # which env each episode ran in
    env_steps: int  # env steps taken by all envs so far, these included
