"""Reading a node's saved state back: a checkpoint is input, so a value that a node
keeps and uses later (a counter, epsilon, the rows of a CSV) is checked as it loads.

    def load_state_dict(self, state):
        self.updates = saved.count(state, "updates")

Each function returns the value or raises ValueError naming the key and what it holds;
the checkpoint loader reports that as a damaged checkpoint, naming the file and node.
(Values a node hands straight to torch or numpy, which check them, need nothing here.)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from .errors import shown


def _problem(key: str, value: Any, what: str) -> ValueError:
    return ValueError(f"'{key}' is {shown(value, 40)}, not {what}")


def count(state: Mapping[str, Any], key: str) -> int:
    """An integer >= 0."""
    value = state[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _problem(key, value, "a count")
    return value


def number(state: Mapping[str, Any], key: str, low: float = -math.inf,
           high: float = math.inf) -> float:
    """A finite number in [low, high]."""
    value = state[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not math.isfinite(value) or not low <= value <= high:
        raise _problem(key, value, f"a number in [{low}, {high}]")
    return float(value)


def numbers(state: Mapping[str, Any], key: str) -> list[float]:
    """A list of finite numbers."""
    value = state[key]
    if not isinstance(value, list) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
            for v in value):
        raise _problem(key, value, "a list of numbers")
    return value


def rows(state: Mapping[str, Any], key: str, fields: tuple[str, ...]) -> list[dict[str, Any]]:
    """A list of rows, each a mapping of exactly `fields` to numbers."""
    value = state[key]
    if not isinstance(value, list) or not all(
            isinstance(r, dict) and tuple(r) == fields and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in r.values())
            for r in value):
        raise _problem(key, value, f"a list of rows of {', '.join(fields)}")
    return [dict(r) for r in value]
