"""The seed notebook's DQN as a plain hand-written PyTorch loop (gymnasium API).

A single-file reference, CleanRL style, for tools/bench_overhead.py: the algorithm and
hyper-parameters of graphs/dqn_notebook.yaml (shared/seeds/002), written the way the
notebook writes them: a deque replay sampled with random.sample, one env, updates
after each finished episode.

    python tools/reference_dqn.py --steps 30000 --seed 1 [--device cpu|cuda|auto]

Like the graph (and unlike the notebook, whose done mask also stopped at the 500-step
time limit) it bootstraps through truncation and stops only at a real termination.
"""

from __future__ import annotations

import argparse
import collections
import random
import time
from dataclasses import dataclass, field

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

# hyper-parameters: the notebook's `run(...)` call
ENV_ID = "CartPole-v1"
LEARNING_RATE = 5e-4
GAMMA = 0.98
BUFFER_MAX_SIZE = 50_000
BATCH_SIZE = 32
TARGET_UPDATE_INTERVAL = 10  # episodes
REPLAY_START_SIZE = 2000  # train once the buffer holds more than this
UPDATES_PER_EPISODE = 10
REWARD_SCALE = 1 / 100.0


def epsilon_at(episode: int) -> float:
    """8% -> 1% over 1400 episodes, as the notebook has it."""
    return max(0.01, 0.08 - 0.01 * (episode / 200))


class QNetwork(nn.Module):
    """Linear(4, 256) - ReLU - Linear(256, 2)."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(4, 256)
        self.fc2 = nn.Linear(256, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.relu(self.fc1(x)))


class ReplayBuffer:
    """A deque of (s, a, r, s', alive) tuples; batches by random.sample."""

    def __init__(self, max_size: int, device: torch.device) -> None:
        self.buffer: collections.deque = collections.deque(maxlen=max_size)
        self.device = device

    def put(self, transition: tuple) -> None:
        self.buffer.append(transition)

    def sample(self, n: int) -> tuple[torch.Tensor, ...]:
        s, a, r, s_prime, alive = zip(*random.sample(self.buffer, n))
        dev = self.device
        return (torch.tensor(np.array(s), dtype=torch.float32, device=dev),
                torch.tensor(a, dtype=torch.int64, device=dev).unsqueeze(1),
                torch.tensor(r, dtype=torch.float32, device=dev).unsqueeze(1),
                torch.tensor(np.array(s_prime), dtype=torch.float32, device=dev),
                torch.tensor(alive, dtype=torch.float32, device=dev).unsqueeze(1))

    def __len__(self) -> int:
        return len(self.buffer)


def train(q: QNetwork, q_target: QNetwork, replay: ReplayBuffer,
          optimizer: torch.optim.Optimizer) -> None:
    """The notebook's `train`: UPDATES_PER_EPISODE gradient steps on smooth L1."""
    for _ in range(UPDATES_PER_EPISODE):
        s, a, r, s_prime, alive = replay.sample(BATCH_SIZE)
        q_a = q(s).gather(1, a)
        with torch.no_grad():
            target = r + GAMMA * q_target(s_prime).max(1)[0].unsqueeze(1) * alive
        loss = F.smooth_l1_loss(q_a, target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


@dataclass
class Result:
    """What a run did, for the benchmark: counts and where the time went."""

    env_steps: int = 0
    episodes: int = 0
    updates: int = 0
    wall_s: float = 0.0
    train_s: float = 0.0  # inside train(): sampling and gradient steps
    returns: list[float] = field(default_factory=list)


def run(steps: int, seed: int, device: str = "cpu") -> Result:
    """Train for `steps` env steps; return the counts and timings."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    dev = torch.device(device)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    env = gym.make(ENV_ID)
    q = QNetwork().to(dev)
    q_target = QNetwork().to(dev)
    q_target.load_state_dict(q.state_dict())
    replay = ReplayBuffer(BUFFER_MAX_SIZE, dev)
    optimizer = torch.optim.Adam(q.parameters(), lr=LEARNING_RATE)
    result = Result()
    start = time.perf_counter()
    s, _ = env.reset(seed=seed)
    n_epi = 0
    score = 0.0
    epsilon = epsilon_at(n_epi)
    while result.env_steps < steps:
        with torch.no_grad():
            out = q(torch.from_numpy(s).to(dev))
        a = random.randint(0, 1) if random.random() < epsilon else int(out.argmax())
        s_prime, r, terminated, truncated, _ = env.step(a)
        result.env_steps += 1
        replay.put((s, a, r * REWARD_SCALE, s_prime, 0.0 if terminated else 1.0))
        s = s_prime
        score += r
        if terminated or truncated:
            result.returns.append(score)
            if len(replay) > REPLAY_START_SIZE:
                t0 = time.perf_counter()
                train(q, q_target, replay, optimizer)
                result.train_s += time.perf_counter() - t0
                result.updates += UPDATES_PER_EPISODE
            if n_epi % TARGET_UPDATE_INTERVAL == 0 and n_epi != 0:
                q_target.load_state_dict(q.state_dict())
            n_epi += 1
            epsilon = epsilon_at(n_epi)
            score = 0.0
            s, _ = env.reset()
    result.wall_s = time.perf_counter() - start
    result.episodes = n_epi
    env.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30_000, help="env steps")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    res = run(args.steps, args.seed, args.device)
    last = res.returns[-100:]
    print(f"{res.env_steps} env steps, {res.episodes} episodes, {res.updates} updates in "
          f"{res.wall_s:.2f} s ({res.train_s:.2f} s training); mean return of the last "
          f"{len(last)} episodes: {sum(last) / max(1, len(last)):.1f}")


if __name__ == "__main__":
    main()
