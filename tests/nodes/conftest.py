"""Fixtures for the node library's unit tests: nodes driven directly, without a graph."""

from __future__ import annotations

import gymnasium as gym
import pytest
import torch

from rlgraph.nodes.data import EnvSpec


def env_spec(env_id: str, num_envs: int = 1) -> EnvSpec:
    env = gym.make(env_id)
    spec = EnvSpec(env_id, env.observation_space, env.action_space, num_envs=num_envs)
    env.close()
    return spec


@pytest.fixture
def pendulum_spec() -> EnvSpec:
    return env_spec("Pendulum-v1")


@pytest.fixture
def cartpole_spec() -> EnvSpec:
    env = gym.make("CartPole-v1")
    spec = EnvSpec("CartPole-v1", env.observation_space, env.action_space, num_envs=1)
    env.close()
    return spec


class TableQ(torch.nn.Module):
    """Q(s, .) = s @ table: with one-hot states, row i of the table is Q(state i, .)."""

    def __init__(self, table: list[list[float]]) -> None:
        super().__init__()
        self.table = torch.nn.Parameter(torch.tensor(table, dtype=torch.float32))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return obs @ self.table


@pytest.fixture
def table_q():
    return TableQ
