"""One Stable-Baselines3 run with rl-baselines3-zoo's hyper-parameters, for
tools/bench_sb3.py. Runs inside the benchmark's own virtual environment (SB3 is never a
dependency of rlgraph); prints one JSON line: learn() wall time and the final agent's
deterministic returns.

    VENV/bin/python tools/sb3_run.py --algo ppo --env cartpole --seed 1
"""

from __future__ import annotations

import argparse
import inspect
import json
import time
from typing import Any

import gymnasium as gym
import numpy as np
import torch
import yaml
from stable_baselines3 import PPO, SAC, TD3
from stable_baselines3.common.env_util import make_vec_env


def linear(start: float) -> Any:
    """The zoo's lin_<start>: start * progress_remaining (1 -> 0 over the run)."""
    return lambda progress_remaining: progress_remaining * start


#: rl-baselines3-zoo hyperparams/{ppo,sac,td3}.yml (PPO: CartPole-v1 and Pendulum-v1, both
#: "Tuned"; SAC: Pendulum-v1, and the MuJoCo defaults for HalfCheetah; TD3: Pendulum, its
#: "Tuned" entry, as the sb3/td3-Pendulum-v1 model trained by the zoo lists it, with its
#: normal action noise of 0.1 added in main())
ZOO: dict[str, dict[str, dict[str, Any]]] = {"ppo": {
    "cartpole": {"env_id": "CartPole-v1", "n_envs": 8, "n_timesteps": 100_000,
                 "hyper": {"n_steps": 32, "batch_size": 256, "gae_lambda": 0.8,
                           "gamma": 0.98, "n_epochs": 20, "ent_coef": 0.0,
                           "learning_rate": linear(0.001), "clip_range": linear(0.2)}},
    "pendulum": {"env_id": "Pendulum-v1", "n_envs": 4, "n_timesteps": 100_000,
                 "hyper": {"n_steps": 1024, "gae_lambda": 0.95, "gamma": 0.9,
                           "n_epochs": 10, "ent_coef": 0.0, "learning_rate": 1e-3,
                           "clip_range": 0.2, "use_sde": True, "sde_sample_freq": 4}},
}, "sac": {
    "pendulum": {"env_id": "Pendulum-v1", "n_envs": 1, "n_timesteps": 20_000,
                 "hyper": {"learning_rate": 1e-3}},
    "halfcheetah": {"env_id": "HalfCheetah-v5", "n_envs": 1, "n_timesteps": 300_000,
                    "hyper": {"learning_starts": 10_000}},
}, "td3": {
    "pendulum": {"env_id": "Pendulum-v1", "n_envs": 1, "n_timesteps": 20_000,
                 "hyper": {"learning_rate": 1e-3, "gamma": 0.98, "buffer_size": 200_000,
                           "learning_starts": 10_000, "train_freq": (1, "episode"),
                           "gradient_steps": -1,
                           "policy_kwargs": {"net_arch": [400, 300]}}},
}}
ALGOS = {"ppo": PPO, "sac": SAC, "td3": TD3}


def evaluate(model: Any, env_id: str, episodes: int, seed: int) -> list[float]:
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
    parser.add_argument("--algo", choices=sorted(ZOO), required=True)
    parser.add_argument("--env", required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--steps", type=int, help="env steps (default: the zoo's)")
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--eval-seed", type=int, default=1_000_000)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="change one of the zoo's hyper-parameters (a YAML value), "
                        "for ablations: --set use_sde=false")
    args = parser.parse_args()
    torch.set_num_threads(1)
    zoo = ZOO[args.algo][args.env]
    env = make_vec_env(zoo["env_id"], n_envs=zoo["n_envs"], seed=args.seed)
    hyper = dict(zoo["hyper"])
    for item in args.set:
        key, equals, value = item.partition("=")
        if not equals or key not in inspect.signature(ALGOS[args.algo]).parameters:
            parser.error(f"--set {item!r}: give KEY=VALUE, KEY one of "
                         f"{ALGOS[args.algo].__name__}'s hyper-parameters")
        hyper[key] = yaml.safe_load(value)
    if args.algo == "td3":
        from stable_baselines3.common.noise import NormalActionNoise
        size = env.action_space.shape[0]
        hyper["action_noise"] = NormalActionNoise(np.zeros(size), 0.1 * np.ones(size))
    model = ALGOS[args.algo]("MlpPolicy", env, seed=args.seed, device="cpu", verbose=0,
                             **hyper)
    start = time.perf_counter()
    model.learn(total_timesteps=args.steps or zoo["n_timesteps"])
    wall = time.perf_counter() - start
    returns = evaluate(model, zoo["env_id"], args.episodes, args.eval_seed)
    print(json.dumps({"learn_s": wall, "returns": returns}))


if __name__ == "__main__":
    main()
