"""Nodes for the placement tests, run by the workers: a process that dies, a node that
raises."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

from rlgraph.core import REQUIRED, In, Kind, Node, Param


class KillAt(Node):
    """Kills its own process (SIGKILL, as the OOM killer would) at a tick, once.

    The `marker` file says it happened: a replacement worker running the tick again
    lives."""

    inputs = {"obs": In(Kind.TENSOR, "anything that arrives every tick")}
    params = {"at": Param(int, REQUIRED, "the tick to die at"),
              "marker": Param(str, REQUIRED, "a file written before dying")}

    at: int
    marker: str

    def step(self, obs: Any) -> None:
        if self.clock.tick == self.at and not Path(self.marker).exists():
            Path(self.marker).write_text(str(os.getpid()), encoding="utf-8")
            os.kill(os.getpid(), signal.SIGKILL)


class FailAt(Node):
    """Raises ValueError at a tick: a bug in a node."""

    inputs = {"obs": In(Kind.TENSOR, "anything that arrives every tick")}
    params = {"at": Param(int, REQUIRED, "the tick to raise at")}

    at: int

    def step(self, obs: Any) -> None:
        if self.clock.tick == self.at:
            raise ValueError(f"observations out of range at tick {self.at}")


def saboteur(kind: str, **params: Any) -> str:
    """YAML of a saboteur node fed by the env's observations (make it an actor)."""
    values = ", ".join(f"{k}: {v!r}" if isinstance(v, str) else f"{k}: {v}"
                       for k, v in params.items())
    return (f"\n  saboteur:\n    type: placement_nodes:{kind}\n    params: {{{values}}}\n"
            f"    in: {{obs: env.obs}}\n")
