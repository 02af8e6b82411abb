"""How long does prioritized replay take per training step in a full 1M buffer?

    python tools/bench_replay.py [--capacity 1000000] [--batch 64] [--repeats 2000]

Fills a PrioritizedReplay with `capacity` CartPole-shaped transitions (4 float32
features) at random priorities, then times each row in blocks of 20 calls, the rows
taking turns so that load on a shared machine hits all alike (median over blocks), in
wall time and in this process's CPU time (on a busy machine the wall time includes
waiting for a core; the CPU time is the work itself):

- the sum tree: sample `batch` slots (stratified, with IS weights) + update `batch`
  priorities; each half alone;
- the nodes: PrioritizedSampler.step (tree sample, gather the batch, weights as a
  tensor) + the priority update PrioritizedReplay makes from torch td errors;
- a pure-Python binary sum tree (a per-sample loop), the usual textbook code, for
  reference, at 32 and at `batch` samples.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable

import numpy as np
import torch
from machine import cpu_model  # tools/, beside this script

from rlgraph.nodes.data import Transition
from rlgraph.nodes.prioritized import PrioritizedReplay, PrioritizedSampler

# calls timed together: rows alternate block by block, so that load hits every row
# alike while each row runs with its own data in cache (the Python tree's 2M floats
# would otherwise evict the numpy tree between single calls)
BLOCK = 20


class PythonSumTree:
    """The textbook binary sum tree: a list, one Python loop iteration per level."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.nodes = [0.0] * (2 * capacity)

    def update(self, index: int, value: float) -> None:
        i = index + self.capacity
        delta = value - self.nodes[i]
        while i >= 1:
            self.nodes[i] += delta
            i //= 2

    def find(self, mass: float) -> int:
        i = 1
        while i < self.capacity:
            left = self.nodes[2 * i]
            if mass < left:
                i = 2 * i
            else:
                mass -= left
                i = 2 * i + 1
        return i - self.capacity


def python_sample_update(tree: PythonSumTree, batch: int, rng: np.random.Generator) -> None:
    total = tree.nodes[1]
    segment = total / batch
    slots = [tree.find((j + rng.random()) * segment) for j in range(batch)]
    for slot in slots:
        tree.update(slot, float(rng.random()))


def full_replay(capacity: int, seed: int) -> PrioritizedReplay:
    replay = PrioritizedReplay(capacity=capacity, alpha=0.6, seed=seed)
    n = capacity
    replay.step(Transition(obs=torch.randn(n, 4), action=torch.randint(2, (n,)),
                           reward=torch.ones(n), next_obs=torch.randn(n, 4),
                           terminated=torch.zeros(n, dtype=torch.bool),
                           truncated=torch.zeros(n, dtype=torch.bool)))
    rng = np.random.default_rng(seed)
    replay.memory.update_priorities(np.arange(n), rng.exponential(1.0, n))
    return replay


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--capacity", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=4000, help="timed calls per row")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    batch = args.batch
    replay = full_replay(args.capacity, seed=0)
    memory = replay.memory
    sampler = PrioritizedSampler(buffer=memory, batch_size=batch, seed=1)
    rng = np.random.default_rng(2)
    py_tree = PythonSumTree(1 << (args.capacity - 1).bit_length())
    for i, p in enumerate(memory.tree.get(np.arange(args.capacity))):
        py_tree.update(i, float(p))

    def tree_both() -> None:
        indices, _ = memory.sample(batch, 0.5, rng)
        memory.update_priorities(indices, rng.random(batch))

    def tree_sample() -> None:
        memory.sample(batch, 0.5, rng)

    def tree_update() -> None:  # random slots, like a sampled batch's (cache misses)
        memory.update_priorities(rng.integers(0, args.capacity, batch), rng.random(batch))

    td = torch.randn(batch)

    def node_both() -> None:
        sampled = sampler.step()["batch"]
        memory.update_priorities(sampled.indices.cpu().numpy(),
                                 td.detach().double().cpu().numpy())

    def node_sample() -> None:
        sampler.step()

    rows: list[tuple[str, Callable[[], None]]] = [
        (f"sum tree: sample {batch} + update {batch}", tree_both),
        (f"sum tree: sample {batch} (with IS weights)", tree_sample),
        (f"sum tree: update {batch}", tree_update),
        (f"nodes: sample {batch} incl. gathering the batch + update {batch}", node_both),
        (f"nodes: PrioritizedSampler.step, batch of {batch}", node_sample),
        ("pure-Python sum tree: sample 32 + update 32",
         lambda: python_sample_update(py_tree, 32, rng)),
        (f"pure-Python sum tree: sample {batch} + update {batch}",
         lambda: python_sample_update(py_tree, batch, rng)),
    ]
    wall: dict[str, list[float]] = {name: [] for name, _ in rows}
    cpu: dict[str, list[float]] = {name: [] for name, _ in rows}
    for _, fn in rows:  # warm up
        for _ in range(20):
            fn()
    for _ in range(args.repeats // BLOCK):
        for name, fn in rows:
            start, start_cpu = time.perf_counter(), time.process_time()
            for _ in range(BLOCK):
                fn()
            cpu[name].append((time.process_time() - start_cpu) / BLOCK)
            wall[name].append((time.perf_counter() - start) / BLOCK)
    print(f"Prioritized replay, {args.capacity:,}-slot full buffer, median of "
          f"{args.repeats // BLOCK} interleaved blocks of {BLOCK} calls "
          f"({cpu_model()}, "
          f"numpy {np.__version__}, torch {torch.__version__}, 1 torch thread)\n")
    print("| operation | median wall µs | median CPU µs |\n|---|---:|---:|")
    for name, _ in rows:
        print(f"| {name} | {statistics.median(wall[name]) * 1e6:.1f} "
              f"| {statistics.median(cpu[name]) * 1e6:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
