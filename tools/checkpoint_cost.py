"""What a checkpoint costs: file size and save/load time, with and without replay contents.

    python tools/checkpoint_cost.py [graphs/dqn_target.yaml] [--fill 100000] [--repeats 5]

Builds the graph, runs a few hundred ticks so that every node has state, then fills the
replay buffer to `--fill` transitions (copies of the ones it has; the bytes are what
count) and times checkpoint writes and reads (median of `--repeats`) as `rlgraph run`
does them: snapshot + atomic save, read + restore into a fresh graph.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from rlgraph.core import build, load
from rlgraph.workflow import checkpoint as ckpt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("graph", nargs="?", default="graphs/dqn_target.yaml")
    parser.add_argument("--fill", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    with build(load(args.graph)) as graph, tempfile.TemporaryDirectory() as tmp:
        graph.run(300)
        for node in graph.nodes.values():
            if ckpt.is_replay(node):
                memory = node.memory
                n = min(args.fill, memory.capacity)
                for t in memory.storage.values():
                    t[:n] = t[torch.arange(n) % memory.size]
                memory.size, memory.pos = n, n % memory.capacity
                print(f"{node.name}: {n:,} transitions, {memory.memory_bytes / 1e6:.1f} MB "
                      f"in memory")
        for replay in (True, False):
            path = Path(tmp) / f"ckpt-{replay}.pt"
            saves, loads = [], []
            for _ in range(args.repeats):
                start = time.perf_counter()
                ckpt.save(ckpt.snapshot(graph, replay), path)
                saves.append(time.perf_counter() - start)
                with build(load(args.graph)) as fresh:
                    start = time.perf_counter()
                    ckpt.restore(fresh, ckpt.read(path), path)
                    loads.append(time.perf_counter() - start)
            print(f"replay {'included' if replay else 'excluded'}: "
                  f"{path.stat().st_size / 1e6:.2f} MB, save {statistics.median(saves):.3f} s, "
                  f"load {statistics.median(loads):.3f} s (median of {args.repeats})")


if __name__ == "__main__":
    main()
