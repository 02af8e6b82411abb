"""Prioritized experience replay (Schaul et al. 2016): a sum tree, the memory that keeps
one priority per slot, the buffer node whose priorities are fed back from the loss, and
the sampler that draws in proportion to them with importance-sampling weights.

The feedback is a wire in the graph: the loss's per-sample `td_error` returns to the
buffer one tick later, with the batch it belongs to::

    replay:
      type: PrioritizedReplay
      in:
        transition: env.transition
        td_error: {from: loss.td_error, delay: 1}   # new priorities ...
        sampled: {from: sample.batch, delay: 1}     # ... of these slots
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from rlgraph.core import (
    REQUIRED,
    In,
    Kind,
    Node,
    NodeConfigError,
    Out,
    Param,
    PlansMemory,
    register,
    saved,
)

from .data import Batch, Transition
from .device import torch_device
from .replay import SAMPLER_PARAMS, ReplayMemory, plan_replay

ARITY = 16  # children per node: 1M slots = 4 levels, each a few numpy calls


class SumTree:
    """Non-negative values over `capacity` slots, with prefix-sum search, in numpy.

    A 16-ary tree stored level by level: a top level of up to 256 nodes, searched with
    one cumsum, then levels of 16 children per node down to the leaves. Both operations
    are vectorized over a whole batch and walk the levels once: `find` descends from
    the top, `update` recomputes the ancestors of the changed leaves from their children
    (no running deltas, so no rounding drift). Per level that is a handful of numpy
    calls on (batch, 16) arrays, with the child prefix sums as one small matrix
    product; 1M slots take 4 levels (256, 4096, 65536, 1M).
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        depth = max(1, math.ceil(math.log(capacity, ARITY) - 1e-9))
        # the top level holds up to 256 nodes, searched with one cumsum; below it each
        # node has ARITY children
        self.levels = [np.zeros(ARITY ** level)
                       for level in range(min(2, depth), depth + 1)]
        self._rows = [level.reshape(-1, ARITY) for level in self.levels]  # children
        self._exclusive = np.triu(np.ones((ARITY, ARITY)), 1)  # x @ it: sums before j
        self._ones = np.ones(ARITY)

    @property
    def total(self) -> float:
        return float(self.levels[0].sum())

    def get(self, indices: np.ndarray) -> np.ndarray:
        return self.levels[-1][indices]

    def update(self, indices: np.ndarray, values: np.ndarray) -> None:
        """Set the values of some slots (repeated slots: the last value wins)."""
        self.levels[-1][indices] = values
        for level in range(len(self.levels) - 1, 0, -1):
            indices = indices // ARITY
            children = self._rows[level].take(indices, axis=0)
            self.levels[level - 1][indices] = children @ self._ones

    def find(self, mass: np.ndarray) -> np.ndarray:
        """For each mass in [0, total): the slot i with sum(values[:i]) <= mass <
        sum(values[:i+1]). Rounding at mass ~ total can give an empty slot past the
        filled ones; PrioritizedMemory.sample clamps it."""
        top = self.levels[0]
        prefix = np.cumsum(top)
        index = np.searchsorted(prefix, mass, side="right")
        np.minimum(index, len(top) - 1, out=index)
        mass = mass - (prefix.take(index) - top.take(index))
        offsets = np.arange(len(mass)) * ARITY
        for rows in self._rows[1:]:
            children = rows.take(index, axis=0)  # (batch, ARITY)
            before = children @ self._exclusive  # mass of the siblings to the left
            child = ((before[:, 1:] <= mass[:, None]) @ self._ones[1:]).astype(np.intp)
            mass = mass - before.take(offsets + child)
            index = index * ARITY + child
        return index

    def rebuild(self) -> None:
        """Recompute every inner level from the leaves (after loading them)."""
        for level in range(len(self.levels) - 1, 0, -1):
            self.levels[level - 1][:] = self._rows[level] @ self._ones


class PrioritizedMemory(ReplayMemory):
    """A replay ring with one priority per slot, sampled in proportion to them.

    A slot's sampling weight is priority^alpha, with priority = |td error| + eps. New
    transitions get the largest priority seen so far (1 at the start), so each is
    likely to be replayed at least once before its priority is known.
    """

    def __init__(self, capacity: int, alpha: float, eps: float,
                 device: torch.device | str = "cpu", owner: str | None = None) -> None:
        super().__init__(capacity, device, owner)
        self.alpha = alpha
        self.eps = eps
        self.tree = SumTree(capacity)
        self.max_priority = 1.0

    def add(self, transition: Transition) -> None:
        pos = self.pos
        super().add(transition)
        n = transition.reward.shape[0]
        if n:
            slots = np.arange(pos, pos + n, dtype=np.int64) % self.capacity
            self.tree.update(slots, np.full(n, self.max_priority ** self.alpha))

    def update_priorities(self, indices: np.ndarray, td_error: np.ndarray) -> None:
        """New priorities |td_error| + eps for the given slots."""
        priority = np.abs(td_error) + self.eps
        self.tree.update(indices, priority ** self.alpha)
        self.max_priority = max(self.max_priority, float(priority.max()))

    def sample(self, batch_size: int, beta: float, rng: np.random.Generator
               ) -> tuple[np.ndarray, np.ndarray]:
        """Slots drawn with probability P(i) = p_i^alpha / sum_k p_k^alpha, and their
        importance-sampling weights.

        Stratified like the PER paper: the total mass is cut into `batch_size` equal
        segments and one slot is drawn uniformly within each. The weights are
        (N P(i))^-beta divided by the largest weight in the batch, which equals
        (min_batch P / P(i))^beta: they only scale updates down, and the normalization
        costs nothing extra. (Normalizing by the buffer-wide largest weight instead, as
        some implementations do with a min-tree, doubles the tree work per update and
        lets one stale tiny priority shrink every update.)
        """
        total = self.tree.total
        mass = (np.arange(batch_size) + rng.random(batch_size)) * (total / batch_size)
        indices = self.tree.find(mass)
        # rounding can step just past the last filled slot; the slots are a prefix
        np.minimum(indices, self.size - 1, out=indices)
        p = self.tree.get(indices)
        weights = (p.min() / p) ** beta
        return indices, weights

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state.update(priorities=self.tree.levels[-1][: self.capacity].copy(),
                     max_priority=self.max_priority)
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.tree.levels[-1][: self.capacity] = state["priorities"]
        self.tree.rebuild()
        self.max_priority = saved.number(state, "max_priority", low=0.0)


@register
class PrioritizedReplay(Node, PlansMemory):
    """A replay buffer that keeps a priority per transition, fed back from the loss.

    Wire `td_error` from the loss and `sampled` from the sampler, both with `delay: 1`:
    each tick the node first sets the priorities of last tick's sampled slots to
    (|td error| + eps)^alpha, then stores the new transitions at the largest priority
    seen so far. Sample it with PrioritizedSampler. The delayed wires carry one batch
    per tick, so train at most once per tick (e.g. `every: 2` on the sampler, no
    `repeat`): updating priorities between consecutive samples is PER's schedule.
    Memory as ReplayBuffer, plus 8 bytes per slot for the sum tree.
    """

    inputs = {
        "transition": In(Kind.TRANSITION, "transitions to store, one row per env"),
        "td_error": In(Kind.TENSOR, "per-sample TD errors of the sampled batch, usually "
                       "{from: loss.td_error, delay: 1}; they become its priorities",
                       optional=True, warn_unconnected=True),
        "sampled": In(Kind.BATCH, "the batch those TD errors belong to (its indices), "
                      "usually {from: sample.batch, delay: 1}", optional=True,
                      warn_unconnected=True),
    }
    outputs = {"buffer": Out(Kind.BUFFER, "handle on the memory, for PrioritizedSampler")}
    params = {
        "capacity": Param(int, REQUIRED, "transitions kept (oldest dropped first)", low=1),
        "alpha": Param(float, 0.6, "how strongly priorities skew sampling; 0 = uniform",
                       low=0.0),
        "eps": Param(float, 1e-6, "added to |td error| so that no transition has "
                     "priority 0", low=0.0, low_open=True),
    }

    capacity: int
    alpha: float
    eps: float

    def setup(self) -> dict[str, Any]:
        # the sum tree is made now: 8 bytes per slot and 1/15 more for the levels above
        self.reserve(8 * self.capacity * ARITY // (ARITY - 1),
                     f"a sum tree of {self.capacity:,} priorities", hint="lower capacity")
        self.memory = PrioritizedMemory(self.capacity, self.alpha, self.eps,
                                        torch_device(self), owner=self.name)
        self.updates = 0
        return {"buffer": self.memory}

    def plan_memory(self, specs: Sequence[Any]) -> None:
        plan_replay(self, self.capacity, specs)

    def step(self, transition: Transition, td_error: torch.Tensor | None = None,
             sampled: Batch | None = None) -> None:
        if td_error is not None:
            # sampled alone is fine (a batch whose loss did not run); td errors without
            # their batch, or of another size, mean the two wires are out of step
            indices = None if sampled is None else sampled.indices
            if indices is None or td_error.shape[0] != indices.shape[0]:
                got = ("no sampled batch" if indices is None
                       else f"a batch of {indices.shape[0]}")
                raise NodeConfigError(
                    f"{td_error.shape[0]} td errors for {got}", port="td_error",
                    hint="wire td_error and sampled from the same sampler -> loss path, "
                         "both with the same delay")
            self.memory.update_priorities(indices.cpu().numpy(),
                                          td_error.detach().double().cpu().numpy())
            self.updates += 1
        self.memory.add(transition)

    def report(self) -> dict[str, float]:
        return {"size": len(self.memory), "max_priority": self.memory.max_priority,
                "priority_updates": self.updates}

    def state_dict(self) -> dict[str, Any]:
        return {"memory": self.memory.state_dict(), "updates": self.updates}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.memory.load_state_dict(state["memory"])
        self.updates = saved.count(state, "updates")


@register
class PrioritizedSampler(Node):
    """Draws batches in proportion to priority, with importance-sampling weights.

    P(i) = p_i^alpha / sum_k p_k^alpha, drawn stratified (one slot per equal slice of
    the total). Each batch carries `weights` = (N P(i))^-beta normalized by the batch's
    largest weight; losses apply them. beta grows linearly from `beta` to 1 over
    `beta_ticks` ticks, so the bias correction is complete by the end of training.
    Needs a PrioritizedReplay buffer; emits nothing until it holds `min_size`.
    """

    inputs = {"buffer": In(Kind.BUFFER, "the PrioritizedReplay memory to draw from")}
    outputs = {"batch": Out(Kind.BATCH, "obs, action, reward, next_obs, terminated, "
                            "truncated, indices, weights; batch_size rows")}
    params = {
        **SAMPLER_PARAMS,
        "beta": Param(float, 0.4, "importance-sampling exponent at tick 0",
                      low=0.0, high=1.0),
        "beta_ticks": Param(int, 100_000, "ticks over which beta grows linearly to 1",
                            low=1),
    }

    batch_size: int
    min_size: int | None
    beta: float
    beta_ticks: int

    def setup(self, buffer: ReplayMemory) -> None:
        if not isinstance(buffer, PrioritizedMemory):
            self.fail(f"PrioritizedSampler needs priorities, but its buffer is a "
                      f"{type(buffer).__name__}", port="buffer",
                      hint="make the buffer node a PrioritizedReplay, or sample it with "
                           "UniformSampler")
        self.memory: PrioritizedMemory = buffer
        self.rng = np.random.default_rng(self.seed)
        self._min = self.min_size if self.min_size is not None else self.batch_size
        self.current_beta = self.beta

    def step(self) -> dict[str, Batch] | None:
        if len(self.memory) < self._min:
            return None
        frac = min(1.0, self.clock.tick / self.beta_ticks)
        self.current_beta = beta = self.beta + (1.0 - self.beta) * frac
        indices, weights = self.memory.sample(self.batch_size, beta, self.rng)
        batch = self.memory.gather(torch.from_numpy(indices))
        return {"batch": batch.replace(weights=torch.from_numpy(weights).to(
            batch.reward.device, torch.float32))}

    def report(self) -> dict[str, float]:
        return {"beta": self.current_beta}

    def state_dict(self) -> dict[str, Any]:
        return {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = state["rng"]
