"""Nodes and helpers for the workflow tests: a tiny DQN, a node that presses Ctrl-C."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from rlgraph.core import Node, Param

GRAPHS = Path(__file__).resolve().parent.parent / "graphs"

#: dqn_target shrunk so that a few hundred ticks train, copy the target and checkpoint
SMALL = ["qnet.hidden=[16]", "replay.capacity=2000", "sample.after=100", "sample.every=32",
         "sample.repeat=2", "sample.batch_size=16", "target.after=100", "target.every=32",
         "policy.decay_steps=300"]


def small_dqn(tmp_path: Path, extra: str = "") -> Path:
    """graphs/dqn_target.yaml shrunk (SMALL applied) with `extra` YAML nodes appended."""
    from rlgraph.core import load
    from rlgraph.core.dump import dump_spec
    checked = load(GRAPHS / "dqn_target.yaml", overrides=SMALL)
    path = tmp_path / "small_dqn.yaml"
    path.write_text(dump_spec(checked.spec) + extra, encoding="utf-8")
    return path


class PressCtrlC(Node):
    """Sends SIGINT to its own process at the given ticks, as a user pressing Ctrl-C."""

    params = {"at": Param(list, [], "ticks at which to send SIGINT", item=int)}

    at: list[int]

    def step(self) -> None:
        if self.clock.tick in self.at:
            os.kill(os.getpid(), signal.SIGINT)
