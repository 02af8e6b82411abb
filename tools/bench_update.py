"""What a gradient step costs on this CPU: a shipped graph's tick against the same update
written in plain torch (the floor any implementation stands on here).

    python tools/bench_update.py --algo sac [--steps 300] [--repeats 5]
    python tools/bench_update.py --algo td3 [--steps 400] [--repeats 5]
    python tools/bench_update.py --algo dqn [--steps 512] [--repeats 5]

SAC: rlgraph's sac_pendulum tick against a plain SAC step, both on batches of 256,
256-256 ReLU actor and twin critics, Adam with fused kernels, Polyak targets: the plain
update is SB3's and CleanRL's order of work without a framework around it (sample next
actions, target Q, critic step, actor step through the new critics, temperature step,
target update). rlgraph's figure is the wall time per tick after learning started
(acting, env step and replay included, so it is the larger by those).

TD3: td3_pendulum against a plain TD3 step on its settings (400-300 ReLU actor and twin
critics, batch 256, target policy smoothing, the actor and the Polyak updates on every
second critic step, fused Adam). The graph trains in bursts of 200 gradient steps, one
per episode of 200 env steps, after 10k random steps (warmed past its first burst, so
building it takes ~10 s); its figure is per gradient step, with one env step, acting and
replay.

DQN: graphs/dqn_target.yaml against a plain DQN step on its settings (batch 128,
4-256-256-2 ReLU Q-network, 3-step targets from a target network, Huber loss, gradient
norm clipped at 10, fused Adam), each batch gathered from a 50k-row buffer. The graph
trains in bursts (128 gradient steps every 256 env steps), so its figure is the wall
time of whole bursts' worth of ticks divided by the gradient steps in them: per
gradient step, with two env steps, acting and replay included.

One torch thread; best and median of `--repeats` timings of `--steps` ticks (SAC) or
gradient steps (TD3, a multiple of 200; DQN, a multiple of 128), the two interleaved.
"""

from __future__ import annotations

import argparse
import copy
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


def mlp(inputs: int, outputs: int, hidden: tuple[int, int] = (HIDDEN, HIDDEN)
        ) -> nn.Sequential:
    return nn.Sequential(nn.Linear(inputs, hidden[0]), nn.ReLU(),
                         nn.Linear(hidden[0], hidden[1]), nn.ReLU(),
                         nn.Linear(hidden[1], outputs))


def plain_sac_step() -> Callable[[], None]:
    """One SAC gradient step in plain torch, on a fixed random batch."""
    q1, q2 = mlp(OBS + ACT, 1), mlp(OBS + ACT, 1)
    t1, t2 = copy.deepcopy(q1), copy.deepcopy(q2)
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


def plain_td3_step() -> Callable[[], None]:
    """One TD3 gradient step of td3_pendulum's settings in plain torch (400-300 ReLU
    actor and twin critics, batch 256, gamma 0.98, target policy smoothing, fused Adam):
    a critic step, and on every second one the delayed actor step and both Polyak
    updates."""
    zoo = (400, 300)
    q1, q2 = mlp(OBS + ACT, 1, zoo), mlp(OBS + ACT, 1, zoo)
    actor = nn.Sequential(mlp(OBS, ACT, zoo), nn.Tanh())
    t1, t2, target_actor = copy.deepcopy(q1), copy.deepcopy(q2), copy.deepcopy(actor)
    critic = [*q1.parameters(), *q2.parameters()]
    target = [*t1.parameters(), *t2.parameters(), *target_actor.parameters()]
    online = [*critic, *actor.parameters()]
    critic_optim = torch.optim.Adam(critic, lr=1e-3, fused=True)
    actor_optim = torch.optim.Adam(actor.parameters(), lr=1e-3, fused=True)
    obs, next_obs = torch.randn(BATCH, OBS), torch.randn(BATCH, OBS)
    action, reward = torch.rand(BATCH, ACT) * 2 - 1, torch.randn(BATCH)
    terminated = torch.zeros(BATCH, dtype=torch.bool)

    def critic_step() -> None:
        with torch.no_grad():
            noise = (torch.randn(BATCH, ACT) * 0.2).clamp(-0.5, 0.5)
            next_action = (target_actor(next_obs) + noise).clamp(-1, 1)
            x = torch.cat([next_obs, next_action], 1)
            value = torch.min(t1(x), t2(x)).squeeze(-1).masked_fill(terminated, 0.0)
            y = reward + 0.98 * value
        x = torch.cat([obs, action], 1)
        loss = F.mse_loss(q1(x).squeeze(-1), y) + F.mse_loss(q2(x).squeeze(-1), y)
        for p, g in zip(critic, torch.autograd.grad(loss, critic)):
            p.grad = g
        critic_optim.step()

    updates = 0

    def step() -> None:
        nonlocal updates
        critic_step()
        updates += 1
        if updates % 2:
            return
        loss = -q1(torch.cat([obs, actor(obs)], 1)).mean()
        params = list(actor.parameters())
        for p, g in zip(params, torch.autograd.grad(loss, params)):
            p.grad = g
        actor_optim.step()
        with torch.no_grad():
            torch._foreach_lerp_(target, online, 0.005)

    return step


def plain_dqn_step() -> Callable[[], None]:
    """One DQN gradient step of dqn_target's settings in plain torch, its batch gathered
    from a 50k-row buffer of random CartPole-shaped 3-step transitions."""
    q = mlp(4, 2)  # CartPole: 4 observations, 2 actions
    target = copy.deepcopy(q)
    params = list(q.parameters())
    optim = torch.optim.Adam(params, lr=5e-4, fused=True)
    rows = 50_000
    obs, next_obs = torch.randn(rows, 4), torch.randn(rows, 4)
    action, reward = torch.randint(0, 2, (rows,)), torch.ones(rows, 3)
    steps, terminated = torch.full((rows,), 3), torch.zeros(rows, dtype=torch.bool)
    discounts = 0.99 ** torch.arange(3.0)

    def step() -> None:
        i = torch.randint(0, rows, (128,))
        with torch.no_grad():
            best = target(next_obs[i]).max(1).values.masked_fill(terminated[i], 0.0)
            y = (reward[i] * discounts).sum(1) + 0.99 ** steps[i] * best
        taken = q(obs[i]).gather(1, action[i, None]).squeeze(1)
        loss = F.smooth_l1_loss(taken, y)
        for p, g in zip(params, torch.autograd.grad(loss, params)):
            p.grad = g
        nn.utils.clip_grad_norm_(params, 10.0)
        optim.step()

    return step


#: --algo: (plain step, graph, ticks run before timing, ticks per gradient step, gradient
#: steps a timed window must be a multiple of, the default window); the warm-up includes
#: the graph's first gradient steps (sac_pendulum's from tick 101, td3_pendulum's first
#: burst at tick 10,200, dqn_target's at tick 1024), so every timed window trains and
#: none pays torch's first-call costs
ALGOS = {"sac": (plain_sac_step, "sac_pendulum", 400, 1, 1, 300),
         "td3": (plain_td3_step, "td3_pendulum", 10201, 1, 200, 400),
         "dqn": (plain_dqn_step, "dqn_target", 1280, 2, 128, 512)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--algo", choices=sorted(ALGOS), default="sac")
    parser.add_argument("--steps", type=int, default=None,
                        help="per timing: ticks (sac, default 300) or gradient steps (dqn, "
                             "a multiple of 128, default 512)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    make_plain, name, warm_ticks, ticks_per_step, burst, default = ALGOS[args.algo]
    steps = default if args.steps is None else args.steps
    if steps < burst or steps % burst:
        parser.error(f"--steps {steps}: {name} trains in bursts of {burst} gradient steps, "
                     f"so time a positive multiple of {burst} "
                     f"(e.g. {max(burst, steps // burst * burst)})")
    torch.set_num_threads(1)
    plain = make_plain()
    graph = build(load(ROOT / "graphs" / f"{name}.yaml"), seed=1)
    graph.run(warm_ticks)  # past the first gradient steps: every timed window trains
    for _ in range(20):
        plain()
    labels = ("plain torch, one gradient step", f"rlgraph {name}, per gradient step")
    times: dict[str, list[float]] = {label: [] for label in labels}
    for _ in range(args.repeats):
        began = time.perf_counter()
        for _ in range(steps):
            plain()
        times[labels[0]].append(time.perf_counter() - began)
        began = time.perf_counter()
        graph.run(steps * ticks_per_step)
        times[labels[1]].append(time.perf_counter() - began)
    graph.close()
    print(f"machine: {cpu_model()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; "
          f"{args.repeats} x {steps} gradient steps, 1 torch thread")
    for label, spent in times.items():
        ms = [t / steps * 1e3 for t in spent]
        print(f"  {label:<38} best {min(ms):6.2f} ms   median {statistics.median(ms):6.2f} ms")


if __name__ == "__main__":
    main()
