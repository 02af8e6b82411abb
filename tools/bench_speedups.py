"""What each helper of rlgraph/nodes/speedups.py saves against the plain torch call, and
what the transition records cost against NamedTuple (and tensordict, when installed).

    python tools/bench_speedups.py [--repeats 7]

Every figure is the best of `--repeats` timings of many calls (the least disturbed by
other load; the plain and the fast call timed alternately), on one torch thread, for the
networks the shipped graphs use (a 4-256-2 MLP on CartPole, a 4-256-256-1 critic on
Pendulum).
"""

from __future__ import annotations

import argparse
import platform
import sys
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import cpu_model

from rlgraph.nodes.data import Transition
from rlgraph.nodes.nets import layers
from rlgraph.nodes.speedups import FastSequential, FusedAdamStep


def best_us(fn: Callable[[], object], number: int, repeats: int) -> float:
    return min(timeit.repeat(fn, number=number, repeat=repeats)) / number * 1e6


def pair_us(plain: Callable[[], object], fast: Callable[[], object], number: int,
            repeats: int) -> tuple[float, float]:
    """Best times of two calls, measured alternately (warm-up and load hit both)."""
    plain(), fast()
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeats):
        for fn, out in ((plain, times[0]), (fast, times[1])):
            out.append(timeit.timeit(fn, number=number) / number * 1e6)
    return min(times[0]), min(times[1])


def sequential_rows(repeats: int) -> list[tuple[str, float, float]]:
    torch.manual_seed(0)
    plain = nn.Sequential(nn.Flatten(1), *layers([4, 256, 2], "relu", False))
    fast = FastSequential(nn.Flatten(1), *layers([4, 256, 2], "relu", False))
    fast.load_state_dict(plain.state_dict())
    row, batch = torch.randn(1, 4), torch.randn(32, 4)

    def act(net: nn.Module) -> Callable[[], object]:
        def run() -> object:
            with torch.inference_mode():
                return net(row)
        return run

    def train(net: nn.Module) -> Callable[[], object]:
        return lambda: net(batch).sum().backward()

    critic = nn.Sequential(*layers([4, 256, 256, 1], "relu", False))
    fast_critic = FastSequential(*layers([4, 256, 256, 1], "relu", False))
    fast_critic.load_state_dict(critic.state_dict())
    critic_batch = torch.randn(256, 4)

    def update(net: nn.Module) -> Callable[[], object]:
        params = list(net.parameters())
        return lambda: torch.autograd.grad(net(critic_batch).sum(), params)

    return [("1-row forward (acting)", *pair_us(act(plain), act(fast), 20000, repeats)),
            ("32-row forward + backward", *pair_us(train(plain), train(fast), 2000, repeats)),
            ("4-256-256-1, 256-row forward + backward (a SAC critic)",
             *pair_us(update(critic), update(fast_critic), 200, repeats))]


def adam_rows(repeats: int) -> list[tuple[str, float, float]]:
    torch.manual_seed(0)
    nets = [nn.Sequential(*layers([4, 256, 2], "relu", False)) for _ in range(2)]
    nets[1].load_state_dict(nets[0].state_dict())
    steps = []
    for net in nets:
        params = list(net.parameters())
        grads = tuple(torch.randn_like(p) * 1e-3 for p in params)
        for p, g in zip(params, grads):
            p.grad = g
        optimizer = torch.optim.Adam(params, lr=1e-3, fused=True)
        steps.append((optimizer, params, grads))
    plain_opt, _, _ = steps[0]
    fused_opt, fused_params, fused_grads = steps[1]
    fused = FusedAdamStep(fused_opt, fused_params)
    plain_opt.step()
    fused(fused_grads)  # the first step creates the state through Adam.step
    return [("Adam step (fused kernel)", *pair_us(plain_opt.step, lambda: fused(fused_grads),
                                                   3000, repeats))]


class TupleTransition(NamedTuple):
    obs: torch.Tensor
    action: torch.Tensor
    reward: torch.Tensor
    next_obs: torch.Tensor
    terminated: torch.Tensor
    truncated: torch.Tensor


def record_rows(repeats: int) -> list[tuple[str, float]]:
    o, a = torch.zeros(1, 4), torch.zeros(1, dtype=torch.int64)
    r, f = torch.zeros(1), torch.zeros(1, dtype=torch.bool)
    fields = {"obs": o, "action": a, "reward": r, "next_obs": o, "terminated": f,
              "truncated": f}
    rec = Transition(**fields)
    rows = [("NamedTuple, built by position", best_us(lambda: TupleTransition(o, a, r, o, f, f),
                                                       50000, repeats)),
            ("NamedTuple, built by keyword", best_us(lambda: TupleTransition(**fields),
                                                      50000, repeats)),
            ("Transition record, built by keyword", best_us(lambda: Transition(**fields),
                                                             50000, repeats)),
            ("Transition record, a field added", best_us(lambda: rec.replace(log_prob=r),
                                                          50000, repeats))]
    try:
        from tensordict import TensorDict
    except ImportError:
        rows.append(("tensordict.TensorDict (not installed: pip install tensordict in a "
                     "separate venv to compare)", float("nan")))
        return rows
    rows += [("TensorDict, batch_size [1]", best_us(lambda: TensorDict(fields, batch_size=[1]),
                                                    5000, repeats)),
             ("TensorDict, no batch size", best_us(lambda: TensorDict(fields), 5000, repeats))]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"{cpu_model()}, 1 torch thread, torch {torch.__version__}, Python "
          f"{platform.python_version()}; best of {args.repeats}\n")
    print("| call | plain torch (us) | rlgraph.nodes.speedups (us) | saved |")
    print("|---|---:|---:|---:|")
    for label, plain, fast in sequential_rows(args.repeats) + adam_rows(args.repeats):
        print(f"| {label} | {plain:.1f} | {fast:.1f} | {1 - fast / plain:.0%} |")
    print("\n| building a transition | us |\n|---|---:|")
    for label, us in record_rows(args.repeats):
        print(f"| {label} | {us:.2f} |")


if __name__ == "__main__":
    main()
