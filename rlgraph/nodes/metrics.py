"""Metrics: what a person watches while an agent learns."""

from __future__ import annotations

from collections import deque
from typing import Any, ClassVar

from rlgraph.core import In, Kind, Node, Param, RowSource, register, saved

from .data import Episodes


@register
class Metrics(Node, RowSource):
    """Keeps the returns and lengths of finished episodes; reports their recent means.

    `report()` (shown in the progress line and the summary of `rlgraph run`) gives the
    number of episodes and the mean return and length of the last `window` of them.
    `rows` holds one record per finished episode (tick, env_steps, episode, return,
    length): `rlgraph run` appends new rows to metrics.csv and TensorBoard between chunks
    of ticks (it writes every RowSource node's rows). Other nodes
    report their own numbers: the env its steps/s, the policy its epsilon, the loss its
    recent mean, the optimizer its gradient norm.
    """

    inputs = {"episode": In(Kind.EVENT, "finished episodes, e.g. env.episode_end")}
    params = {"window": Param(int, 100, "episodes averaged in the report", low=1)}

    row_fields: ClassVar[tuple[str, ...]] = ("tick", "env_steps", "episode", "return",
                                             "length")
    log_name: ClassVar[str] = "metrics"  # rlgraph run writes the rows to metrics.csv

    window: int

    def setup(self) -> None:
        self.rows: list[dict[str, float]] = []
        self._returns: deque[float] = deque(maxlen=self.window)
        self._lengths: deque[int] = deque(maxlen=self.window)

    def step(self, episode: Episodes) -> None:
        for ret, length in zip(episode.returns, episode.lengths):
            self._returns.append(ret)
            self._lengths.append(length)
            self.rows.append({"tick": self.clock.tick, "env_steps": episode.env_steps,
                              "episode": len(self.rows) + 1, "return": ret,
                              "length": length})

    def report(self) -> dict[str, float]:
        out: dict[str, float] = {"episodes": len(self.rows)}
        if self._returns:
            out["return_mean"] = sum(self._returns) / len(self._returns)
            out["length_mean"] = sum(self._lengths) / len(self._lengths)
        return out

    def state_dict(self) -> dict[str, Any]:
        return {"rows": [dict(r) for r in self.rows], "returns": list(self._returns),
                "lengths": list(self._lengths)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rows = saved.rows(state, "rows", self.row_fields)
        self._returns = deque(saved.numbers(state, "returns"), maxlen=self.window)
        self._lengths = deque((int(n) for n in saved.numbers(state, "lengths")),
                              maxlen=self.window)
