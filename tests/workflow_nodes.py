"""Nodes and helpers for the workflow tests: a tiny DQN, a node that presses Ctrl-C,
nodes on the acting path that evaluation must (or cannot) run, an env without a state
adapter."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from rlgraph.core import Acting, In, Kind, Node, Out, Param

GRAPHS = Path(__file__).resolve().parent.parent / "graphs"

#: dqn_target shrunk so that a few hundred ticks train, copy the target and checkpoint
SMALL = ["qnet.hidden=[16]", "replay.capacity=2000", "sample.after=100", "sample.every=32",
         "sample.repeat=2", "sample.batch_size=16", "target.after=100", "target.every=32",
         "policy.decay_steps=300"]


def small_dqn(tmp_path: Path, extra: str = "") -> Path:
    """graphs/dqn_target.yaml shrunk (SMALL applied) with `extra` YAML nodes appended."""
    from rlgraph.core import load
    from rlgraph.core.dump import dump_spec
    checked = load(GRAPHS / "dqn_target.yaml", overrides=SMALL)
    path = tmp_path / "small_dqn.yaml"
    path.write_text(dump_spec(checked.spec) + extra, encoding="utf-8")
    return path


METRICS = """
  metrics:
    type: Metrics
    in: {episode: env.episode_end}
"""


def policy_graph(tmp_path: Path, env_params: str, policy: str, steps: int = 20,
                 extra: str = "") -> Path:
    """A graph file of an env and a custom policy of this module, nothing learning, with
    `extra` YAML nodes appended."""
    graph = tmp_path / "policy.yaml"
    graph.write_text(f"""name: policy_only
steps: {steps}
nodes:
  env:
    type: GymEnv
    params: {env_params}
    in: {{action: {{from: policy.action, delay: 1}}}}
  policy:
    type: workflow_nodes:{policy}
    in: {{obs: env.obs}}
""" + extra, encoding="utf-8")
    return graph


class PressCtrlC(Node):
    """Sends SIGINT to its own process at the given ticks, as a user pressing Ctrl-C."""

    params = {"at": Param(list, [], "ticks at which to send SIGINT", item=int)}

    at: list[int]

    def step(self) -> None:
        if self.clock.tick in self.at:
            os.kill(os.getpid(), signal.SIGINT)


class ShiftObs(Node, Acting):
    """A preprocessing node: observations + `offset` (to the policy, and in evaluation)."""

    inputs = {"obs": In(Kind.TENSOR, "raw observations")}
    outputs = {"obs": Out(Kind.TENSOR, "shifted observations")}
    params = {"offset": Param(float, 0.0, "added to every observation")}

    offset: float

    def setup(self) -> None:
        self.calls = 0

    def step(self, obs: Any) -> dict[str, Any]:
        self.calls += 1  # state evaluation must not change
        return {"obs": obs + self.offset}

    def act(self, obs: Any) -> dict[str, Any]:
        return {"obs": obs + self.offset}


class LeanLeft(Node):
    """A custom policy without act(): always action 0 (cannot be evaluated)."""

    inputs = {"obs": In(Kind.TENSOR, "observations")}
    outputs = {"action": Out(Kind.TENSOR, "actions")}

    def step(self, obs: Any) -> dict[str, Any]:
        import torch
        return {"action": torch.zeros(obs.shape[0], dtype=torch.int64)}


class Torque(Node, Acting):
    """A deterministic continuous policy: torque = gain * angular velocity (Pendulum)."""

    inputs = {"obs": In(Kind.TENSOR, "Pendulum observations (cos, sin, velocity)")}
    outputs = {"action": Out(Kind.TENSOR, "torques, (envs, 1)")}
    params = {"gain": Param(float, -1.0, "torque per unit of angular velocity")}

    gain: float

    def step(self, obs: Any) -> dict[str, Any]:
        return {"action": obs[:, 2:3] * self.gain}

    act = step


class DriftEnv(gym.Env):
    """A 1-D random walk with no state adapter: checkpoints keep it as a pickle.

    The position moves by the action (0: -1, 1: +1) plus noise from the env's generator;
    an episode ends when |position| reaches 5 (terminated) or after 30 steps."""

    observation_space = gym.spaces.Box(-np.inf, np.inf, (1,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.position = float(self.np_random.normal())
        return np.array([self.position], dtype=np.float32), {}

    def step(self, action):
        self.position += (2 * int(action) - 1) + float(self.np_random.normal())
        terminated = abs(self.position) >= 5
        return np.array([self.position], dtype=np.float32), 1.0, terminated, False, {}


DRIFT_ID = "workflow_nodes:RlgraphTest/Drift-v0"  # importing this module registers it
if "RlgraphTest/Drift-v0" not in gym.registry:
    gym.register("RlgraphTest/Drift-v0", entry_point=DriftEnv, max_episode_steps=30)


class Crash(Node):
    """Raises RuntimeError at the given tick: a bug in a node's own code."""

    params = {"at": Param(int, 3, "tick at which to raise")}

    at: int

    def step(self) -> None:
        if self.clock.tick == self.at:
            raise RuntimeError("boom")
