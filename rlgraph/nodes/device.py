"""From a graph's `device:` name to a torch.device, checked once at build."""

from __future__ import annotations

import torch

from rlgraph.core import Node


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
