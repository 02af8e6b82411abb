"""N-step transitions: each env's last n steps folded into one transition."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from rlgraph.core import In, Kind, Node, Out, Param, register, saved

from .data import Transition

#: Fields an n-step transition takes from its last step; the others come from its first.
LAST_STEP = ("next_obs", "terminated", "truncated")


@register
class NStep(Node):
    """Turns each env's one-step transitions into n-step transitions for replay.

    Every env keeps a window of its last steps. When a window holds n steps, the
    transition from its oldest step is emitted: obs and action of that step, the n
    rewards, the observation n steps later. When an episode ends, every step still
    in the env's window is emitted at once (k < n rewards each): after a termination
    without bootstrap, after a truncation bootstrapping from the true final observation
    with gamma^k. Windows never cross an episode end, and each env has its own, so
    vector envs work. Rows per tick vary (0 while windows fill, several at an episode
    end); ReplayBuffer stores any number. In a placed run it goes with the env to every
    worker (`follows_env`), so that no window joins steps of two workers.

    Rewards are not summed here: the transitions carry their k rewards (zero-padded to
    n columns) and k, and the loss discounts them with its own gamma, so a graph has
    one discount, set on the loss. Fields other nodes added to the transitions (a
    policy's log_prob, say) are those of the window's first step, like obs and action.
    """

    inputs = {"transition": In(Kind.TRANSITION, "one-step transitions, one row per env")}
    outputs = {"transition": Out(Kind.TRANSITION, "n-step transitions: reward (rows, n) "
                                 "zero-padded, steps (rows,) = k; 0 or more rows")}
    params = {"n": Param(int, 3, "env steps per transition (1 = unchanged returns)", low=1)}
    follows_env = True  # its windows are per env row: on the workers of a placed run

    n: int

    def setup(self) -> None:
        self.history: Transition | None = None  # the last n ticks, a ring over axis 0
        self.filled: np.ndarray | None = None  # (num_envs,) steps in each env's window
        self.newest = -1  # ring slot of the latest tick
        n = self.n
        self._ages = np.arange(n)  # a window's ages: 0 = its oldest step
        # for a transition starting at age a: the ages of its rewards (clamped to the
        # window, i.e. the padding repeats the last) and which of them are real
        ages = self._ages[:, None] + self._ages[None, :]
        self._reward_ages = np.minimum(ages, n - 1)
        self._reward_valid = ages < n

    def step(self, transition: Transition) -> dict[str, Transition]:
        n = self.n
        if self.history is None:
            self._allocate(transition)
        assert self.history is not None and self.filled is not None
        self.newest = (self.newest + 1) % n
        for name, ring in self.history.items():
            ring[self.newest] = getattr(transition, name)
        self.filled = np.minimum(self.filled + 1, n)
        ended = (transition.terminated | transition.truncated).cpu().numpy()
        full = (~ended) & (self.filled == n)
        if full.all():  # the common tick: every env emits its window's oldest step
            self.filled[:] = n - 1
            return {"transition": self._emit_oldest(transition)}
        # start of each emitted transition, as an age: 0 = the window's oldest slot
        env, start = np.nonzero(
            (ended[:, None] & (self._ages[None, :] >= n - self.filled[:, None]))
            | (full[:, None] & (self._ages[None, :] == 0)))
        self.filled[full] = n - 1
        self.filled[ended] = 0
        return {"transition": self._emit(transition, env, start)}

    def _emit_oldest(self, transition: Transition) -> Transition:
        """What `_emit` gives when every env emits the oldest step of a full window (one
        row per env, in env order, n rewards each), in a few tensor ops instead of ~20,
        which halves the node's time on such a tick."""
        assert self.history is not None
        n, rows = self.n, transition.reward.shape[0]
        oldest = (self.newest + 1) % n
        # the ring rolled so that age 0 (the oldest step) comes first: a new tensor
        rewards = torch.roll(self.history.reward, -oldest, 0).T  # (rows, n)
        first = {name: ring[oldest].clone() for name, ring in self.history.items()
                 if name != "reward"}  # a copy: the ring slot is written again n ticks on
        return Transition(
            **first, reward=rewards.contiguous(),
            next_obs=transition.next_obs, terminated=transition.terminated,
            truncated=transition.truncated,
            steps=torch.full((rows,), n, dtype=torch.int64, device=rewards.device))

    def _emit(self, transition: Transition, env: np.ndarray, start: np.ndarray
              ) -> Transition:
        """Rows (env, start age) of the windows, ending at this tick's next_obs."""
        assert self.history is not None
        n = self.n
        device = transition.reward.device
        # index arithmetic in numpy (a few small arrays; far cheaper per op than torch),
        # then one tensor per index; ring slot of age a is (newest + 1 + a) % n
        slot_of_start = torch.from_numpy((self.newest + 1 + start) % n).to(device)
        reward_slots = torch.from_numpy(
            (self.newest + 1 + self._reward_ages[start]) % n).to(device)
        valid = torch.from_numpy(self._reward_valid[start]).to(device)
        env_t = torch.from_numpy(env).to(device)
        # rewards of ages start .. n-1, moved to columns 0 .. n-1-start, zero-padded
        rewards = self.history.reward[reward_slots, env_t[:, None]] * valid
        first = {name: ring[slot_of_start, env_t] for name, ring in self.history.items()
                 if name != "reward"}  # obs, action and any extra field of the first step
        return Transition(
            **first, reward=rewards,
            next_obs=transition.next_obs[env_t],
            terminated=transition.terminated[env_t],
            truncated=transition.truncated[env_t],
            steps=torch.from_numpy(n - start).to(device))

    def _allocate(self, transition: Transition) -> None:
        if transition.steps is not None:
            self.fail("NStep takes one-step transitions; these already span several steps",
                      port="transition", hint="use one NStep node, fed by the env")
        if transition.reward.dim() != 1:
            self.fail(f"NStep expects one reward per row, got shape "
                      f"{tuple(transition.reward.shape)}", port="transition")
        n, rows = self.n, transition.reward.shape[0]

        def ring(value: torch.Tensor) -> torch.Tensor:
            return torch.zeros((n, *value.shape), dtype=value.dtype, device=value.device)

        # what a window keeps of each step: everything but what the last step gives
        self.history = Transition(**{name: ring(value) for name, value in transition.items()
                                     if value is not None and name not in LAST_STEP})
        self.filled = np.zeros(rows, dtype=np.int64)

    def state_dict(self) -> dict[str, Any]:
        if self.history is None or self.filled is None:
            return {"history": None}
        return {"history": {k: v.clone() for k, v in self.history.fields().items()},
                "filled": self.filled.copy(), "newest": self.newest}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state["history"] is None:
            self.setup()
            return
        h = state["history"]
        self.history = Transition(**{name: ring.clone() for name, ring in h.items()})
        self.filled = state["filled"].copy()
        self.newest = saved.count(state, "newest")
        if self.newest >= self.n:
            raise ValueError(f"'newest' is {self.newest}, not a slot of {self.n}")
