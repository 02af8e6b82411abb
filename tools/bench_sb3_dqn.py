"""rlgraph's graphs/dqn_target.yaml beside Stable-Baselines3's DQN with rl-baselines3-zoo's
CartPole-v1 hyper-parameters, seed by seed on the same machine.

SB3 is not a dependency of rlgraph: install it in a virtual environment of its own,
which sees the packages already installed (torch, gymnasium, rlgraph's dependencies):

    python -m venv --system-site-packages /tmp/venv_sb3
    /tmp/venv_sb3/bin/pip install "torch==2.13.0" stable-baselines3
    PYTHONPATH=$PWD /tmp/venv_sb3/bin/python tools/bench_sb3_dqn.py --seeds 1 2 3 4 5

For each seed the two learners run one after the other, each in a fresh process with
one torch thread (SB3 first on odd seeds, rlgraph first on even ones, so that a drift
in the machine's load falls on both): learn for the graph's steps (50k env steps), timed
around SB3's `model.learn` and rlgraph's `graph.run` only (building the model or graph
is not timed, evaluation happens after), then 20 greedy episodes in fresh CartPole-v1
envs seeded 1000000, 1000001, ... (the same episodes for both, played by
rlgraph.nodes.evaluation.play_episodes). Prints per seed the learn wall and CPU time
and the final greedy return (mean, worst episode) of both, and whether rlgraph's final
agent is at least as good in at most half the wall time.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

#: rl-baselines3-zoo hyperparams/dqn.yml, CartPole-v1 ("Almost Tuned")
ZOO = {"policy": "MlpPolicy", "learning_rate": 2.3e-3, "batch_size": 64,
       "buffer_size": 100_000, "learning_starts": 1000, "gamma": 0.99,
       "target_update_interval": 10, "train_freq": 256, "gradient_steps": 128,
       "exploration_fraction": 0.16, "exploration_final_eps": 0.04,
       "policy_kwargs": {"net_arch": [256, 256]}}
ZOO_TIMESTEPS = 50_000
ENV_ID = "CartPole-v1"
EPISODES = 20
EVAL_SEED = 1_000_000  # rlgraph's: the episodes `rlgraph run` ends with
SETUP = """stable-baselines3 is not installed in this Python ({python}). It belongs in a
virtual environment of its own, never in rlgraph's dependencies:

    python -m venv --system-site-packages /tmp/venv_sb3
    /tmp/venv_sb3/bin/pip install "torch==2.13.0" stable-baselines3
    PYTHONPATH=$PWD /tmp/venv_sb3/bin/python tools/bench_sb3_dqn.py"""


def final_returns(act, seed: int) -> list[float]:
    """EPISODES greedy episodes of ENV_ID with `act` (obs tensor -> action tensor)."""
    import gymnasium as gym
    import torch

    from rlgraph.nodes.data import EnvSpec
    from rlgraph.nodes.envs import GymEvalEnvs
    from rlgraph.nodes.evaluation import play_episodes
    probe = gym.make(ENV_ID)
    spec = EnvSpec(ENV_ID, probe.observation_space, probe.action_space, EPISODES)
    probe.close()
    envs = GymEvalEnvs(spec, {}, EPISODES, seed, torch.device("cpu"))
    return play_episodes(act, envs)[0]


def learn_sb3(seed: int, steps: int) -> dict:
    import gymnasium as gym
    import torch
    from stable_baselines3 import DQN
    model = DQN(env=gym.make(ENV_ID), seed=seed, device="cpu", verbose=0, **ZOO)
    wall, cpu = time.perf_counter(), time.process_time()
    model.learn(total_timesteps=steps)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu

    def act(obs: torch.Tensor) -> torch.Tensor:
        return torch.as_tensor(model.predict(obs.numpy(), deterministic=True)[0])
    return {"learn_s": wall, "learn_cpu_s": cpu, "env_steps": steps,
            "returns": final_returns(act, EVAL_SEED)}


def learn_rlgraph(seed: int, graph_file: str, overrides: list[str]) -> dict:
    from rlgraph.core import build, load
    from rlgraph.nodes.evaluation import Actor
    checked = load(graph_file, overrides=overrides)
    graph = build(checked, seed=seed)
    with graph:
        wall, cpu = time.perf_counter(), time.process_time()
        graph.run(checked.spec.steps)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        env_steps = graph.nodes["env"].env_steps
        returns = final_returns(Actor(graph), EVAL_SEED)
    return {"learn_s": wall, "learn_cpu_s": cpu, "env_steps": env_steps, "returns": returns}


def worker(which: str, seed: int, graph_file: str, overrides: list[str]) -> None:
    import torch
    torch.set_num_threads(1)
    out = learn_sb3(seed, ZOO_TIMESTEPS) if which == "sb3" else \
        learn_rlgraph(seed, graph_file, overrides)
    print(json.dumps(out))


def run_worker(which: str, seed: int, args: argparse.Namespace) -> dict:
    command = [sys.executable, __file__, "--worker", which, "--seeds", str(seed),
               "--graph", args.graph, *[f"--set={o}" for o in args.overrides]]
    done = subprocess.run(command, capture_output=True, text=True, env=dict(os.environ))
    if done.returncode != 0:
        raise SystemExit(f"{which} seed {seed} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _final(r: dict) -> str:
    return f"{statistics.fmean(r['returns']):.1f} ({min(r['returns']):g})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--graph", default="graphs/dqn_target.yaml")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="override a param of the rlgraph graph")
    parser.add_argument("--worker", choices=("sb3", "rlgraph"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker, args.seeds[0], args.graph, args.overrides)
        return 0
    if importlib.util.find_spec("stable_baselines3") is None:
        print(SETUP.format(python=sys.executable), file=sys.stderr)
        return 2
    if not Path(args.graph).is_file():
        print(f"no such graph file: {args.graph}", file=sys.stderr)
        return 2
    print(f"SB3 DQN, rl-zoo {ENV_ID}: {ZOO}, {ZOO_TIMESTEPS} env steps")
    print(f"rlgraph: {args.graph}" + "".join(f" --set {o}" for o in args.overrides))
    print(f"final: mean greedy return of {EPISODES} episodes (worst episode); learn: wall s "
          "(CPU s)\n")
    print("| seed | SB3 learn s | SB3 final | rlgraph learn s | rlgraph final | "
          "rlgraph / SB3 wall | rlgraph >= SB3 |")
    print("|---:|---:|---:|---:|---:|---:|---|")
    rows = []
    for seed in args.seeds:
        order = ("sb3", "rlgraph") if seed % 2 else ("rlgraph", "sb3")
        got = {which: run_worker(which, seed, args) for which in order}
        sb3, mine = got["sb3"], got["rlgraph"]
        ratio = mine["learn_s"] / sb3["learn_s"]
        better = statistics.fmean(mine["returns"]) >= statistics.fmean(sb3["returns"])
        rows.append((sb3, mine, ratio, better))
        print(f"| {seed} | {sb3['learn_s']:.1f} ({sb3['learn_cpu_s']:.1f}) | {_final(sb3)} "
              f"| {mine['learn_s']:.1f} ({mine['learn_cpu_s']:.1f}) | {_final(mine)} "
              f"| {ratio:.2f} | {'yes' if better else 'no'} |", flush=True)
    as_good = sum(better for *_, better in rows)
    total = sum(m["learn_s"] for _, m, _, _ in rows) / sum(s["learn_s"] for s, *_ in rows)
    solved = {name: sum(statistics.fmean(r[i]["returns"]) >= 475 for r in rows)
              for i, name in ((0, "sb3"), (1, "rlgraph"))}
    print(f"\nrlgraph's final agent at least as good on {as_good}/{len(rows)} seeds; "
          f"solved (>= 475): SB3 {solved['sb3']}/{len(rows)}, rlgraph "
          f"{solved['rlgraph']}/{len(rows)}; learn wall time rlgraph / SB3 {total:.2f} "
          f"(median per seed {statistics.median(r for *_, r, _ in rows):.2f})")
    goal = as_good == len(rows) and all(r <= 0.5 for *_, r, _ in rows)
    print("goal (at least as good on every seed, at most half the wall time): "
          + ("met" if goal else "missed"))
    return 0 if goal else 1


if __name__ == "__main__":
    sys.exit(main())
