"""Stand-in environments for tools/bench_placement.py, importable by Ray workers.

`SlowCartPole-v1` is CartPole-v1 whose every step first waits about a millisecond
(time.sleep): a stand-in for a simulator that answers slowly (a remote one, a physics
engine in another process). The wait costs no CPU, so it measures how well workers
overlap waiting, not how fast a core steps physics. GymEnv makes it by the id
`placement_standins:SlowCartPole-v1` (gymnasium imports the module first).
"""

from __future__ import annotations

import time
from typing import Any

import gymnasium as gym

WAIT_S = 0.001


class SlowStep(gym.Wrapper):
    """Waits `wait_s` seconds before each step of the wrapped env."""

    def __init__(self, env: gym.Env, wait_s: float = WAIT_S) -> None:
        super().__init__(env)
        self.wait_s = wait_s

    def step(self, action: Any) -> Any:
        time.sleep(self.wait_s)
        return self.env.step(action)


def make_slow_cartpole(**kwargs: Any) -> gym.Env:
    return SlowStep(gym.make("CartPole-v1", **kwargs))


if "SlowCartPole-v1" not in gym.registry:
    gym.register("SlowCartPole-v1", entry_point=make_slow_cartpole)
