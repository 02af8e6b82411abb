"""The node library: one module per family, each registering its nodes with `@register`.

Every node class, and the data classes that flow between nodes, can be imported from
here: `from rlgraph.nodes import DQNLoss, GymEnv`. A name is imported from its module on
first use, so `import rlgraph.nodes` alone loads neither torch nor gymnasium.
"""

from __future__ import annotations

import importlib
from typing import Any

#: Public name -> the module of this package that defines it.
EXPORTS: dict[str, str] = {
    # data on the wires
    "EnvSpec": "data", "Transition": "data", "Batch": "data", "Rollout": "data",
    "Episodes": "data", "Record": "data",
    # environments and their transforms
    "GymEnv": "envs", "AsyncGymEnv": "envs", "ScaleReward": "envs", "NStep": "nstep",
    # networks
    "Network": "nets", "QNetwork": "nets", "MLP": "nets", "DuelingMLP": "nets",
    "ActorCritic": "actor_critic", "ActorCriticMLP": "actor_critic",
    "SharedActorCriticMLP": "actor_critic",
    "SquashedGaussianActor": "continuous", "DeterministicActor": "continuous",
    "TwinQNetwork": "continuous", "Temperature": "continuous",
    # policies
    "Greedy": "policies", "EpsilonGreedy": "policies", "SamplingPolicy": "actor_critic",
    "UniformWarmup": "policies", "SACPolicy": "sac", "NoisyActorPolicy": "td3",
    # on-policy data
    "RolloutBuffer": "rollout", "GAE": "rollout", "MinibatchSampler": "rollout",
    # preprocessing
    "NormalizeObs": "normalize", "NormalizeReward": "normalize",
    # replay
    "ReplayBuffer": "replay", "UniformSampler": "replay", "ReplayMemory": "replay",
    "PrioritizedReplay": "prioritized", "PrioritizedSampler": "prioritized",
    "PrioritizedMemory": "prioritized",
    # learning
    "DQNLoss": "losses", "DoubleDQNLoss": "losses", "PPOLoss": "ppo",
    "SACCriticLoss": "sac", "SACActorLoss": "sac", "TemperatureLoss": "sac",
    "TD3CriticLoss": "td3", "TD3ActorLoss": "td3",
    "SelectiveBackprop": "selective",
    "TargetNetwork": "target",
    "Optimizer": "optim", "Adam": "optim", "RMSprop": "optim", "SGD": "optim",
    "NonFiniteError": "optim",
    # watching
    "Metrics": "metrics", "EvalEpisodes": "evaluation",
}

__all__ = sorted(EXPORTS)


def __getattr__(name: str) -> Any:
    module = EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'rlgraph.nodes' has no attribute '{name}'")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *EXPORTS})
