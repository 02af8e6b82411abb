"""What a SAC gradient step costs on this CPU: rlgraph's sac_pendulum tick against the
same update written in plain torch (the floor any SAC implementation stands on here).

    python tools/bench_sac_update.py [--steps 300] [--repeats 5]

Both on one torch thread, batches of 256, 256-256 ReLU actor and twin critics, Adam
with fused kernels, Polyak targets: the plain update is SB3's and CleanRL's order of
work without a framework around it (sample next actions, target Q, critic step, actor
step through the new critics, temperature step, target update). rlgraph's figure is
the wall time per tick of graphs/sac_pendulum.yaml after learning started (acting,
env step and replay included, so it is the larger by those). Best and median of
`--repeats` timings of `--steps` steps each, the two interleaved.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import cpu_model

from rlgraph.core import build, load

ROOT = Path(__file__).resolve().parent.parent
BATCH, HIDDEN, OBS, ACT = 256, 256, 3, 1


def mlp(inputs: int, outputs: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(inputs, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, HIDDEN),
                         nn.ReLU(), nn.Linear(HIDDEN, outputs))


def plain_sac_step() -> Callable[[], None]:
    """One SAC gradient step in plain torch, on a fixed random batch."""
    q1, q2 = mlp(OBS + ACT, 1), mlp(OBS + ACT, 1)
    t1, t2 = mlp(OBS + ACT, 1), mlp(OBS + ACT, 1)
    t1.load_state_dict(q1.state_dict())
    t2.load_state_dict(q2.state_dict())
    trunk = nn.Sequential(nn.Linear(OBS, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, HIDDEN),
                          nn.ReLU())
    mean, log_std_head = nn.Linear(HIDDEN, ACT), nn.Linear(HIDDEN, ACT)
    log_alpha = nn.Parameter(torch.zeros(()))
    critic = [*q1.parameters(), *q2.parameters()]
    target = [*t1.parameters(), *t2.parameters()]
    actor = [*trunk.parameters(), *mean.parameters(), *log_std_head.parameters()]
    optims = [torch.optim.Adam(p, lr=1e-3, fused=True) for p in (critic, actor, [log_alpha])]
    obs, next_obs = torch.randn(BATCH, OBS), torch.randn(BATCH, OBS)
    action, reward = torch.rand(BATCH, ACT) * 4 - 2, torch.randn(BATCH)
    terminated = torch.zeros(BATCH, dtype=torch.bool)

    def sample(o: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = trunk(o)
        mu, log_std = mean(features), log_std_head(features).clamp(-20, 2)
        noise = torch.randn_like(mu)
        u = mu + log_std.exp() * noise
        log_prob = (-0.5 * noise.pow(2) - log_std - 0.9189).sum(-1)
        log_prob = log_prob - (2 * (0.6931 - u - F.softplus(-2 * u))).sum(-1)
        return 2 * torch.tanh(u), log_prob

    def twin(a: nn.Module, b: nn.Module, o: torch.Tensor, act: torch.Tensor
             ) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.cat([o, act], 1)
        return a(x).squeeze(-1), b(x).squeeze(-1)

    def step_with(loss: torch.Tensor, params: list[nn.Parameter], optim: torch.optim.Adam
                  ) -> None:
        for p, g in zip(params, torch.autograd.grad(loss, params)):
            p.grad = g
        optim.step()

    def step() -> None:
        with torch.no_grad():
            next_action, next_log_prob = sample(next_obs)
            v1, v2 = twin(t1, t2, next_obs, next_action)
            value = torch.min(v1, v2) - log_alpha.exp() * next_log_prob
            y = reward + 0.99 * value.masked_fill(terminated, 0.0)
        c1, c2 = twin(q1, q2, obs, action)
        step_with(0.5 * (F.mse_loss(c1, y) + F.mse_loss(c2, y)), critic, optims[0])
        new_action, log_prob = sample(obs)
        a1, a2 = twin(q1, q2, obs, new_action)
        step_with((log_alpha.exp().detach() * log_prob - torch.min(a1, a2)).mean(), actor,
                  optims[1])
        step_with(-(log_alpha * (log_prob.detach() - 1.0)).mean(), [log_alpha], optims[2])
        with torch.no_grad():
            torch._foreach_lerp_(target, critic, 0.005)

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    plain = plain_sac_step()
    graph = build(load(ROOT / "graphs" / "sac_pendulum.yaml"), seed=1)
    graph.run(200)  # past the 100 random steps: every tick now trains
    for _ in range(20):
        plain()
    times: dict[str, list[float]] = {"plain torch, one gradient step": [],
                                     "rlgraph sac_pendulum, one tick": []}
    for _ in range(args.repeats):
        began = time.perf_counter()
        for _ in range(args.steps):
            plain()
        times["plain torch, one gradient step"].append(time.perf_counter() - began)
        began = time.perf_counter()
        graph.run(args.steps)
        times["rlgraph sac_pendulum, one tick"].append(time.perf_counter() - began)
    graph.close()
    print(f"machine: {cpu_model()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; "
          f"{args.repeats} x {args.steps} steps, 1 torch thread")
    for label, spent in times.items():
        ms = [t / args.steps * 1e3 for t in spent]
        print(f"  {label:<34} best {min(ms):6.2f} ms   median {statistics.median(ms):6.2f} ms")


if __name__ == "__main__":
    main()
