"""One Stable-Baselines3 PPO run with rl-baselines3-zoo's hyper-parameters, for
tools/bench_ppo.py. Runs inside the benchmark's own virtual environment (SB3 is never a
dependency of rlgraph); prints one JSON line: learn() wall time and the final agent's
deterministic returns.

    VENV/bin/python tools/sb3_ppo_run.py --env cartpole --seed 1
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import gymnasium as gym
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env


def linear(start: float) -> Any:
    """The zoo's lin_<start>: start * progress_remaining (1 -> 0 over the run)."""
    return lambda progress_remaining: progress_remaining * start


#: rl-baselines3-zoo hyperparams/ppo.yml (CartPole-v1 and Pendulum-v1, both "Tuned")
ZOO: dict[str, dict[str, Any]] = {
    "cartpole": {"env_id": "CartPole-v1", "n_envs": 8, "n_timesteps": 100_000,
                 "hyper": {"n_steps": 32, "batch_size": 256, "gae_lambda": 0.8,
                           "gamma": 0.98, "n_epochs": 20, "ent_coef": 0.0,
                           "learning_rate": linear(0.001), "clip_range": linear(0.2)}},
    "pendulum": {"env_id": "Pendulum-v1", "n_envs": 4, "n_timesteps": 100_000,
                 "hyper": {"n_steps": 1024, "gae_lambda": 0.95, "gamma": 0.9,
                           "n_epochs": 10, "ent_coef": 0.0, "learning_rate": 1e-3,
                           "clip_range": 0.2, "use_sde": True, "sde_sample_freq": 4}},
}


def evaluate(model: PPO, env_id: str, episodes: int, seed: int) -> list[float]:
    """Deterministic episodes, env i seeded seed + i (as rlgraph's evaluation seeds)."""
    env = gym.make(env_id)
    returns = []
    for i in range(episodes):
        obs, _ = env.reset(seed=seed + i)
        total, done = 0.0, False
        while not done:
            action, _ = model.predict(obs, deterministic=True)
            obs, reward, terminated, truncated, _ = env.step(action)
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
    env.close()
    return returns


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", choices=sorted(ZOO), required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--steps", type=int, help="env steps (default: the zoo's)")
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--eval-seed", type=int, default=1_000_000)
    args = parser.parse_args()
    torch.set_num_threads(1)
    zoo = ZOO[args.env]
    env = make_vec_env(zoo["env_id"], n_envs=zoo["n_envs"], seed=args.seed)
    model = PPO("MlpPolicy", env, seed=args.seed, device="cpu", verbose=0, **zoo["hyper"])
    start = time.perf_counter()
    model.learn(total_timesteps=args.steps or zoo["n_timesteps"])
    wall = time.perf_counter() - start
    returns = evaluate(model, zoo["env_id"], args.episodes, args.eval_seed)
    print(json.dumps({"learn_s": wall, "returns": returns}))


if __name__ == "__main__":
    main()
