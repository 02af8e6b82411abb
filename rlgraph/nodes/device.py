"""From a graph's `device:` name to a torch.device, checked once at build; and the
torch thread count a run should use."""

from __future__ import annotations

import os
from typing import Any

import torch

from rlgraph.core import GraphError, GraphErrors, Loc, Node


class Seeded(Node):
    """Base of nodes that draw random numbers (sampling policies, exploration noise,
    losses that sample actions): their own generator on the graph's device, seeded from
    the node's seed (`make_generator()` in setup), its state checkpointed."""

    generator: torch.Generator

    def make_generator(self) -> None:
        self.generator = torch.Generator(device=torch_device(self)).manual_seed(self.seed)

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        rest = dict(state)
        self.generator.set_state(rest.pop("generator"))
        super().load_state_dict(rest)


def torch_device(node: Node) -> torch.device:
    """The torch device `node` should allocate on; `auto` means cuda when torch sees a
    GPU, else cpu. A device this machine lacks is a build error located at the node."""
    name = node.device
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not _cuda_has(device):
        node.fail(f"device '{name}' was asked for, but torch sees "
                  f"{torch.cuda.device_count()} CUDA device(s) "
                  f"(torch {torch.__version__}, cuda build: {torch.version.cuda or 'no'})",
                  hint="use device: cpu, or device: auto to fall back to the CPU")
    if device.type == "mps" and not torch.backends.mps.is_available():
        node.fail(f"device '{name}' was asked for, but MPS is not available here",
                  hint="use device: cpu, or device: auto")
    return device


def _cuda_has(device: torch.device) -> bool:
    if not torch.cuda.is_available():
        return False
    return device.index is None or device.index < torch.cuda.device_count()


#: Environment variable that sets torch's intra-op threads for rlgraph runs.
THREADS_ENV = "RLGRAPH_THREADS"


def configure_threads(threads: int | None = None) -> int:
    """Set torch's intra-op thread count for a run and return it.

    `threads` when given, else the RLGRAPH_THREADS environment variable, else 1.
    rlgraph's agents run small networks on small batches, one tick at a time: there
    torch's default of one thread per core only adds hand-off between threads (on a
    shared 2-core machine dqn_target.yaml ran 12x slower with 2 threads than with 1;
    tools/bench_threads.py measures it). Set more threads for large networks or batches.
    A bad value is a GraphErrors naming the variable.
    """
    if threads is None:
        raw = os.environ.get(THREADS_ENV, "").strip()
        if not raw:
            threads = 1
        else:
            try:
                threads = int(raw)
            except ValueError:
                threads = 0
            if threads < 1:
                raise _threads_error(f"{THREADS_ENV} must be a positive whole number of "
                                     f"threads, got {raw!r}")
    if threads < 1:
        raise _threads_error(f"torch threads must be at least 1, got {threads}")
    torch.set_num_threads(threads)
    return threads


def _threads_error(message: str) -> GraphErrors:
    return GraphErrors([GraphError(message, Loc(THREADS_ENV), hint="e.g. RLGRAPH_THREADS=1, "
                                   "or leave it unset for one thread")])
