"""Evaluation: how well the greedy policy of a Q-network does, on episodes of its own."""

from __future__ import annotations

import statistics
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from rlgraph.core import In, Kind, Node, Out, Param, register

from .data import EnvSpec
from .device import torch_device


def greedy_returns(q: nn.Module, env_id: str, episodes: int, seed: int,
                   device: torch.device | str = "cpu", kwargs: dict[str, Any] | None = None,
                   max_steps: int = 100_000) -> tuple[list[float], list[int]]:
    """Returns and lengths of `episodes` greedy episodes, one in each env of a fresh
    vector env seeded `seed, seed + 1, ...`; an episode still running after `max_steps`
    env steps counts with the return it has."""
    env = gym.make_vec(env_id, num_envs=episodes, vectorization_mode="sync",
                       **(kwargs or {}))
    returns = np.zeros(episodes)
    lengths = np.zeros(episodes, dtype=np.int64)
    running = np.ones(episodes, dtype=bool)
    try:
        obs, _ = env.reset(seed=seed)
        for _ in range(max_steps):
            with torch.inference_mode():
                x = torch.as_tensor(obs, dtype=torch.float32, device=device)
                action = q(x).argmax(dim=1).cpu().numpy()
            obs, reward, terminated, truncated, _ = env.step(action)
            returns += np.where(running, reward, 0.0)
            lengths += running
            running &= ~(terminated | truncated)
            if not running.any():
                break
    finally:
        env.close()
    return returns.tolist(), lengths.tolist()


@register
class EvalEpisodes(Node):
    """Plays greedy episodes in a separate env each time it fires; records their returns.

    The env is a fresh copy of the training env (`spec.id`, with `kwargs`), seeded from
    this node's seed and the number of evaluations so far, so evaluation never touches
    the training env or its random numbers. Fire it with triggers, e.g. `every: 5000`.
    Each evaluation adds a row to `rows` (tick, env_steps, episodes, return_mean,
    return_std, length_mean), which `rlgraph run` writes to eval.csv and TensorBoard;
    env_steps counts the training env's steps (tick x num_envs).
    """

    inputs = {
        "spec": In(Kind.SPEC, "the training env's spec (env.spec): which env to play"),
        "q": In(Kind.MODULE, "the Q-network whose greedy policy is evaluated", role="q"),
    }
    outputs = {"return_mean": Out(Kind.SCALAR, "mean return of this evaluation's episodes; "
                                  "absent on ticks without one")}
    params = {
        "episodes": Param(int, 10, "episodes per evaluation (played side by side)", low=1),
        "kwargs": Param(dict, {}, "keyword arguments for gymnasium.make, as for GymEnv "
                        "(e.g. max_episode_steps)"),
        "max_steps": Param(int, 100_000, "env steps after which an unfinished episode "
                           "counts with the return it has", low=1),
    }

    row_fields: ClassVar[tuple[str, ...]] = ("tick", "env_steps", "episodes", "return_mean",
                                             "return_std", "length_mean")
    log_name: ClassVar[str] = "eval"  # rlgraph run writes the rows to eval.csv

    episodes: int
    kwargs: dict[str, Any]
    max_steps: int

    def setup(self, spec: EnvSpec, q: nn.Module) -> None:
        self.spec = spec
        self.q = q
        self._device = torch_device(self)
        self.rows: list[dict[str, float]] = []

    def step(self) -> dict[str, float]:
        returns, lengths = greedy_returns(
            self.q, self.spec.id, self.episodes, self.seed + len(self.rows) * self.episodes,
            self._device, self.kwargs, self.max_steps)
        mean = statistics.fmean(returns)
        self.rows.append({
            "tick": self.clock.tick, "env_steps": self.clock.tick * self.spec.num_envs,
            "episodes": self.episodes, "return_mean": mean,
            "return_std": statistics.pstdev(returns), "length_mean": statistics.fmean(lengths)})
        return {"return_mean": mean}

    def report(self) -> dict[str, float]:
        return {"eval_return": self.rows[-1]["return_mean"]} if self.rows else {}

    def state_dict(self) -> dict[str, Any]:
        return {"rows": [dict(r) for r in self.rows]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rows = [dict(r) for r in state["rows"]]
