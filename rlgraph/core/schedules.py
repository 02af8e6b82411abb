"""Schedules as parameter values: a param declared `Param(..., schedule=True)` takes a
number or a schedule written in the graph file, counted in ticks like every trigger:

    lr: 3.0e-4                                  # constant
    lr: {linear: [3.0e-4, 0.0]}                 # start -> end over the run (its steps)
    clip: {linear: [0.2, 0.05], ticks: 50000}   # ... reached at tick 50000, then held
    lr: {exponential: [1.0e-3, 1.0e-4], ticks: 20000}   # the gap shrinks by e per 20000
    ent: {piecewise: [[0, 0.01], [10000, 0.001], [50000, 0.0]]}   # linear between points

The node receives a Schedule (also for a plain number) and reads its value with
`self.lr.at(self.clock.tick)`. A schedule is a function of the tick only, so it holds no
state, resumes exactly, and never pushes its node out of a `repeat` burst (a schedule
node wired into a loss would).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

SHAPES = ("linear", "exponential", "piecewise")
KEYS = (*SHAPES, "ticks")
EXAMPLE = "e.g.  {linear: [3.0e-4, 0.0]}  or  {linear: [0.2, 0.05], ticks: 50000}"


@dataclass(frozen=True)
class Schedule:
    """A value as a function of the tick: constant, or a shape between points."""

    shape: str  # constant, linear, exponential or piecewise
    points: tuple[tuple[float, float], ...]  # (tick, value); ticks None-free once bound
    over_run: bool = False  # linear/exponential without `ticks`: over the run's steps

    @classmethod
    def constant(cls, value: float) -> Schedule:
        return cls("constant", ((0, value),))

    @property
    def is_constant(self) -> bool:
        return self.shape == "constant"

    @property
    def start(self) -> float:
        return self.points[0][1]

    def bind(self, total_ticks: int | None) -> Schedule:
        """The schedule with 'over the run' resolved to `total_ticks` (the graph's steps);
        ValueError when the run has no length."""
        if not self.over_run:
            return self
        if total_ticks is None:
            raise ValueError("a schedule over the run needs the graph's 'steps'")
        (t0, a), (_, b) = self.points
        return Schedule(self.shape, ((t0, a), (t0 + total_ticks, b)))

    def at(self, tick: int) -> float:
        """The value at `tick`."""
        points = self.points
        if self.shape == "constant" or tick <= points[0][0]:
            return points[0][1]
        if self.shape == "exponential":
            (t0, a), (t1, b) = points
            return b + (a - b) * math.exp(-(tick - t0) / (t1 - t0))
        for (t0, a), (t1, b) in pairwise(points):
            if tick < t1:
                return a + (b - a) * (tick - t0) / (t1 - t0)
        return points[-1][1]

    def describe(self) -> str:
        """'linear 0.0003 -> 0 over the run', as `rlgraph nodes` and drawings show it."""
        if self.is_constant:
            return f"{self.start:g}"
        if self.shape == "piecewise":
            return "piecewise " + ", ".join(f"{v:g} at tick {t:g}" for t, v in self.points)
        span = "over the run" if self.over_run else f"by tick {self.points[1][0]:g}"
        return f"{self.shape} {self.start:g} -> {self.points[-1][1]:g} {span}"


def parse_schedule(value: Any, check_value: Callable[[Any], str | None]
                   ) -> tuple[Schedule | None, str | None]:
    """A number or a schedule mapping as a Schedule, or (None, what is wrong).
    `check_value` says what is wrong with one value (type, range) or None."""
    if not isinstance(value, Mapping):
        problem = check_value(value)
        return (None, problem) if problem else (Schedule.constant(float(value)), None)
    unknown = [k for k in value if k not in KEYS]
    shapes = [k for k in value if k in SHAPES]
    if unknown or len(shapes) != 1:
        what = f"unknown key '{unknown[0]}'" if unknown else "it needs exactly one of " \
            + ", ".join(SHAPES)
        return None, f"is not a schedule: {what} ({EXAMPLE})"
    shape = shapes[0]
    ticks = value.get("ticks")
    if ticks is not None and (isinstance(ticks, bool) or not isinstance(ticks, int)
                              or ticks < 1):
        return None, f"schedule 'ticks' must be an integer >= 1, got {ticks!r}"
    raw = value[shape]
    if shape == "piecewise":
        return _piecewise(raw, ticks, check_value)
    if not isinstance(raw, list) or len(raw) != 2:
        return None, f"'{shape}' needs [start, end], got {raw!r} ({EXAMPLE})"
    for v in raw:
        problem = check_value(v)
        if problem:
            return None, f"schedule value {problem}"
    start, end = float(raw[0]), float(raw[1])
    if shape == "exponential" and ticks is None:
        return None, "an exponential schedule needs 'ticks' (the gap shrinks by e per ticks)"
    return Schedule(shape, ((0, start), (ticks or 0, end)), over_run=ticks is None), None


def _piecewise(raw: Any, ticks: Any, check_value: Callable[[Any], str | None]
               ) -> tuple[Schedule | None, str | None]:
    if ticks is not None:
        return None, "a piecewise schedule gives its ticks in its points; remove 'ticks'"
    if not isinstance(raw, list) or len(raw) < 2 or not all(
            isinstance(p, list) and len(p) == 2 for p in raw):
        return None, "'piecewise' needs a list of [tick, value] points, at least two"
    points = []
    for tick, v in raw:
        if isinstance(tick, bool) or not isinstance(tick, int) or tick < 0:
            return None, f"a piecewise point's tick must be an integer >= 0, got {tick!r}"
        problem = check_value(v)
        if problem:
            return None, f"schedule value {problem}"
        points.append((tick, float(v)))
    if any(b[0] <= a[0] for a, b in pairwise(points)):
        return None, "piecewise ticks must increase"
    return Schedule("piecewise", tuple(points)), None
