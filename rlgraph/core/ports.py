"""Port kinds, port declarations (In, Out) and parameter declarations (Param).

A node class declares its interface as data::

    inputs = {"obs": In(Kind.TENSOR, "observations")}
    outputs = {"action": Out(Kind.TENSOR, "chosen actions")}
    params = {"gamma": Param(float, 0.99, "discount factor", low=0.0, high=1.0)}

Stream ports carry a fresh value every tick and order the tick schedule; static ports
carry one value fixed at build time (a network, a space spec, a buffer handle) and
order construction only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class Kind(str, Enum):
    """What flows along an edge."""

    TENSOR = "tensor"  # an array of numbers (observations, actions, Q-values)
    TRANSITION = "transition"  # one env step for every env: obs, action, reward, next_obs, ...
    BATCH = "batch"  # a batch of transitions sampled for learning
    MODULE = "module"  # a trainable network (static)
    SPEC = "spec"  # observation / action spaces (static)
    BUFFER = "buffer"  # a handle on a replay memory (static)
    SCALAR = "scalar"  # one number (a loss, an epsilon)
    EVENT = "event"  # something that happened (an episode ended), with its data
    ANY = "any"  # accepts or produces anything; checked only at build

    def __str__(self) -> str:
        return self.value


#: Kinds whose ports are static unless a declaration says otherwise.
STATIC_KINDS = frozenset({Kind.MODULE, Kind.SPEC, Kind.BUFFER})


def kinds_compatible(out_kind: Kind, in_kind: Kind) -> bool:
    """The compatibility rule, explicit and without conversions.

    An output may feed an input of the same kind; `any` on either side matches every
    kind (the node that declares `any` takes responsibility for the value).
    """
    return out_kind == in_kind or Kind.ANY in (out_kind, in_kind)


def as_kind(kind: Kind | str) -> Kind:
    try:
        return Kind(kind)
    except ValueError:
        valid = ", ".join(k.value for k in Kind)
        raise TypeError(f"unknown port kind {kind!r}; valid kinds: {valid}") from None


@dataclass(frozen=True)
class _Port:
    kind: Kind | str
    doc: str = ""
    static: bool | None = field(default=None, kw_only=True)
    warn_unconnected: bool = field(default=False, kw_only=True)

    def __post_init__(self) -> None:
        kind = as_kind(self.kind)
        object.__setattr__(self, "kind", kind)
        if self.static is None:
            object.__setattr__(self, "static", kind in STATIC_KINDS)


@dataclass(frozen=True)
class In(_Port):
    """An input port declaration.

    optional: the node also fires when nothing is connected or the value is absent
        (it then receives None).
    static: the value is fixed at build time and passed to `setup`, not to `step`;
        by default modules, specs and buffers are static.
    warn_unconnected: for optional inputs that usually matter, warn when unconnected.
    """

    optional: bool = field(default=False, kw_only=True)


@dataclass(frozen=True)
class Out(_Port):
    """An output port declaration; static outputs are returned by `setup`.

    warn_unconnected: warn when no node reads this output (it usually matters)."""


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


#: Marks a parameter without a default.
REQUIRED: Any = _Required()

_TYPE_NAMES = {int: "integer", float: "number", bool: "boolean", str: "string",
               list: "list", dict: "mapping"}


def type_name(t: type | tuple[type, ...] | None) -> str:
    if t is None:
        return "any value"
    if isinstance(t, tuple):
        return " or ".join(type_name(x) for x in t)
    return _TYPE_NAMES.get(t, t.__name__)


def _value_type_name(value: Any) -> str:
    if value is None:
        return "null"
    return _TYPE_NAMES.get(type(value), type(value).__name__)


def _is_instance(value: Any, t: type) -> bool:
    # bool is an int in Python but never a number in a graph file
    if isinstance(value, bool):
        return t is bool
    if t is float:
        return isinstance(value, (int, float))
    return isinstance(value, t)


@dataclass(frozen=True)
class Param:
    """A parameter declaration: type, default, documentation and allowed values.

    type: int, float, bool, str, list, dict, a tuple of those, or None for any value.
    default: REQUIRED when the graph must give it; None allows null.
    low/high: inclusive bounds for numbers; low_open/high_open make them exclusive.
    choices: allowed values.
    item: type of list items.
    """

    type: type | tuple[type, ...] | None
    default: Any = REQUIRED
    doc: str = ""
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: Sequence[Any] | None = None
    item: type | None = None
    min_len: int | None = field(default=None)

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    def describe(self) -> str:
        """One line: type, range and default, as `rlgraph nodes` prints it."""
        parts = [type_name(self.type)]
        if self.item is not None:
            parts[0] += f" of {type_name(self.item)}"
        rng = self._range_text()
        if rng:
            parts.append(rng)
        if self.choices is not None:
            parts.append("one of " + ", ".join(repr(c) for c in self.choices))
        parts.append("required" if self.required else f"default {self.default!r}")
        return ", ".join(parts)

    def _range_text(self) -> str:
        if self.low is None and self.high is None:
            return ""
        lo = "" if self.low is None else ("(" if self.low_open else "[") + f"{self.low}"
        hi = "" if self.high is None else f"{self.high}" + (")" if self.high_open else "]")
        if self.low is None:
            return f"{'<' if self.high_open else '<='} {self.high}"
        if self.high is None:
            return f"{'>' if self.low_open else '>='} {self.low}"
        return f"in {lo}, {hi}"

    def check(self, value: Any) -> tuple[Any, str | None]:
        """Validate a value; return (normalized value, problem or None)."""
        if value is None:
            if self.default is None:
                return None, None
            return value, f"must be {type_name(self.type)}, got null"
        t = self.type
        if t is not None:
            types = t if isinstance(t, tuple) else (t,)
            if not any(_is_instance(value, x) for x in types):
                return value, f"must be {type_name(t)}, got {_value_type_name(value)} {value!r}"
            if float in types and int not in types and isinstance(value, int):
                value = float(value)
        if self.item is not None and isinstance(value, list):
            for i, v in enumerate(value):
                if not _is_instance(v, self.item):
                    return value, (f"item {i} must be {type_name(self.item)}, "
                                   f"got {_value_type_name(v)} {v!r}")
        if self.min_len is not None and len(value) < self.min_len:
            return value, f"must have at least {self.min_len} item(s), got {len(value)}"
        if self.choices is not None and value not in self.choices:
            return value, f"must be one of {', '.join(repr(c) for c in self.choices)}, got {value!r}"
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            too_low = self.low is not None and (
                value <= self.low if self.low_open else value < self.low)
            too_high = self.high is not None and (
                value >= self.high if self.high_open else value > self.high)
            if too_low or too_high:
                return value, f"must be {self._range_text()}, got {value!r}"
        return value, None


class _Absent:
    """The value of a port that emitted nothing this tick."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "ABSENT"

    def __bool__(self) -> bool:
        return False


ABSENT: Any = _Absent()
