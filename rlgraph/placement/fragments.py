"""What crosses between processes in a placed run: fragments of ticks and weights.

A fragment holds, for each actor output the learner reads, the ticks on which it had a
value and the values. Values are packed by column before they travel: tensors of one
shape and dtype become one stacked numpy array, records (transitions) one per field, so
a fragment of 128 ticks is a handful of arrays rather than a thousand small tensors
(pickling a 128-tick fragment of CartPole transitions cost 2.7 ms as tensors, 0.15 ms as
arrays). Anything else (an episode's numbers, a scalar) travels as a list. Unpacking
gives each tick its own view of the rows: the same values the actors emitted.

Weights travel as numpy arrays, one dict per module, versioned by the learner.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch
from torch import nn

from ..core import ABSENT

#: Weights as they travel: "node.port" of a module -> its state, name -> array.
Weights = dict[str, dict[str, np.ndarray]]


@dataclass
class Packed:
    """A column of values packed for the trip: one of `stacked` (an array, rows stacked,
    of tensors of `dtype`), `fields` (a record class and its fields, each packed) or
    `items` (as they are)."""

    rows: int
    stacked: np.ndarray | None = None
    dtype: torch.dtype | None = None
    record: type | None = None
    fields: dict[str, Packed | None] = field(default_factory=dict)
    items: list[Any] | None = None


def pack(values: list[Any]) -> Packed:
    """Pack a column of values (one per tick it was present)."""
    first = values[0] if values else None
    if isinstance(first, torch.Tensor):
        stacked = _stacked(values, first.dtype)
        if stacked is not None:
            return Packed(len(values), stacked=stacked, dtype=first.dtype)
    if isinstance(first, SimpleNamespace):
        names = tuple(vars(first))
        if all(type(v) is type(first) and tuple(vars(v)) == names for v in values):
            fields: dict[str, Packed | None] = {}
            for name in names:
                column = [getattr(v, name) for v in values]
                if all(c is None for c in column):
                    fields[name] = None
                elif any(c is None for c in column):
                    return Packed(len(values), items=list(values))
                else:
                    fields[name] = pack(column)
            return Packed(len(values), record=type(first), fields=fields)
    return Packed(len(values), items=list(values))


def _stacked(values: list[Any], dtype: torch.dtype) -> np.ndarray | None:
    """Tensors of one shape and dtype, on the CPU and outside autograd, as one array
    (numpy travels at a fraction of a tensor's pickling cost); None for others."""
    if not all(isinstance(v, torch.Tensor) and v.dtype is dtype for v in values):
        return None
    try:  # torch checks shapes and devices; numpy() refuses autograd and other devices
        return torch.stack(values).numpy()
    except (RuntimeError, TypeError):
        return None


def unpack(packed: Packed) -> list[Any]:
    """The values of a packed column, in order."""
    if packed.stacked is not None:
        # a copy the learner owns (arrays from Ray's object store are read-only), seen
        # a row at a time
        return list(torch.tensor(packed.stacked, dtype=packed.dtype).unbind(0))
    if packed.record is not None:
        cls, names = packed.record, list(packed.fields)
        nones = [None] * packed.rows
        columns = [nones if p is None else unpack(p) for p in packed.fields.values()]
        return [cls(**dict(zip(names, row))) for row in zip(*columns)]
    assert packed.items is not None
    return packed.items


@dataclass
class Column:
    """One actor output over a fragment: the ticks (offsets from its start) on which it
    had a value, and the values, packed."""

    ticks: list[int]
    values: Packed


def columns_of(rows: list[tuple[int, Mapping[str, Any]]], ports: list[str], start: int
               ) -> dict[str, Column]:
    """Columns of `ports` from a node's (tick, outputs) rows."""
    columns = {}
    for port in ports:
        present = [(t - start, out[port]) for t, out in rows
                   if port in out and out[port] is not ABSENT]
        columns[port] = Column([t for t, _ in present], pack([v for _, v in present]))
    return columns


def outputs_by_tick(columns: dict[str, Column], ticks: int) -> list[dict[str, Any] | None]:
    """Per tick of a fragment, what the node emitted on its channel ports (None when
    nothing)."""
    out: list[dict[str, Any] | None] = [None] * ticks
    for port, column in columns.items():
        for t, value in zip(column.ticks, unpack(column.values)):
            emitted = out[t]
            if emitted is None:
                emitted = out[t] = {}
            emitted[port] = value
    return out


# ---- weights ------------------------------------------------------------------------------
def module_state(module: nn.Module) -> dict[str, np.ndarray]:
    """A module's parameters and buffers as numpy arrays of their own (the learner goes on
    training the module while the copy travels)."""
    return {name: value.detach().cpu().numpy().copy()
            for name, value in module.state_dict().items()}


def load_module_state(module: nn.Module, state: Mapping[str, np.ndarray]) -> None:
    """Copy `state` into the module's parameters and buffers (on its device)."""
    with warnings.catch_warnings():
        # arrays read from Ray's object store are read-only; load_state_dict only
        # reads them
        warnings.filterwarnings("ignore", message=".*not writable.*")
        tensors = {name: torch.from_numpy(value) for name, value in state.items()}
    module.load_state_dict(tensors)
