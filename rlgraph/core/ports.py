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

import builtins
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

from .errors import shown
from .schedules import Schedule, parse_schedule


@dataclass(frozen=True)
class PortKind:
    """A kind of value on a wire: its name, what it is, and whether ports of this kind are
    static (fixed at build) unless a declaration says otherwise."""

    name: str
    doc: str = ""
    static: bool = False

    def __str__(self) -> str:
        return self.name


class Kind:
    """What flows along an edge. The built-in kinds are attributes (`Kind.TENSOR`); a
    node package adds its own with `Kind.register("trajectory", "...")`, and its ports
    then declare `In("trajectory", ...)` or `In(Kind.get("trajectory"), ...)`.

    Two ports connect when their kinds are the same, or when either is `any`."""

    TENSOR = PortKind("tensor", "an array of numbers (observations, actions, Q-values)")
    TRANSITION = PortKind("transition", "one env step of every env: obs, action, reward, "
                          "next_obs, terminated, truncated, and fields nodes add")
    BATCH = PortKind("batch", "a batch of transitions sampled for learning")
    ROLLOUT = PortKind("rollout", "T steps of N envs in time order, with what the policy "
                       "said when it acted (on-policy learning)")
    MODULE = PortKind("module", "a trainable network", static=True)
    SPEC = PortKind("spec", "observation and action spaces", static=True)
    BUFFER = PortKind("buffer", "a handle on a replay memory", static=True)
    SCALAR = PortKind("scalar", "one number (a loss, an epsilon)")
    EVENT = PortKind("event", "something that happened (an episode ended), with its data")
    ANY = PortKind("any", "accepts or produces anything; checked only at build")

    _registered: ClassVar[dict[str, PortKind]] = {}

    @classmethod
    def register(cls, name: str, doc: str, *, static: bool = False) -> PortKind:
        """Add a kind (or return it, when the same kind is registered again: a module
        imported twice). A name taken by another kind is a NameError."""
        if not name.isidentifier():
            raise NameError(f"port kind name {name!r} must be an identifier")
        kind = PortKind(name, doc, static)
        known = cls._registered.get(name)
        if known is not None:
            if known != kind:
                raise NameError(f"port kind '{name}' is already registered as {known!r}")
            return known
        cls._registered[name] = kind
        return kind

    @classmethod
    def get(cls, name: str) -> PortKind:
        """The kind called `name`; a TypeError listing the kinds when there is none."""
        kind = cls._registered.get(name)
        if kind is None:
            raise TypeError(f"unknown port kind {name!r}; kinds: "
                            + ", ".join(k.name for k in cls.all()))
        return kind

    @classmethod
    def all(cls) -> list[PortKind]:
        """Every kind: the built-in ones first, then the registered ones in order."""
        return list(cls._registered.values())


for _kind in (Kind.TENSOR, Kind.TRANSITION, Kind.BATCH, Kind.ROLLOUT, Kind.MODULE, Kind.SPEC,
              Kind.BUFFER, Kind.SCALAR, Kind.EVENT, Kind.ANY):
    Kind._registered[_kind.name] = _kind


def kinds_compatible(out_kind: PortKind, in_kind: PortKind) -> bool:
    """The compatibility rule, explicit and without conversions.

    An output may feed an input of the same kind; `any` on either side matches every
    kind (the node that declares `any` takes responsibility for the value).
    """
    return out_kind == in_kind or Kind.ANY in (out_kind, in_kind)


def as_kind(kind: PortKind | str) -> PortKind:
    if isinstance(kind, PortKind):
        return kind
    return Kind.get(kind)


#: Module roles: what a network on a module port does. An output says which roles its
#: module plays; an input which one it needs; a wire between two declared roles that
#: share none is an error at load. Node packages add roles with `register_role`.
ROLES: dict[str, str] = {
    "q": "Q-values of discrete actions: module(obs) -> (batch, n_actions)",
    "policy": "a stochastic policy: module(obs) -> the parameters of an action "
              "distribution",
    "value": "a state-value function: module(obs) -> (batch,) values",
    "actor_critic": "a policy and a value function in one module (a shared trunk)",
    "actor": "a deterministic policy for Box actions: module(obs) -> actions",
    "stochastic_actor": "a tanh-squashed Gaussian policy for Box actions: "
                        "sample(obs) -> (action, log_prob), reparameterized",
    "critic": "Q-values of Box actions: module(obs, action) -> values",
    "temperature": "SAC's entropy coefficient: module() -> alpha = exp(log_alpha)",
}


def register_role(name: str, doc: str) -> str:
    """Add a module role (returns its name); registering the same name twice is a
    NameError unless the documentation is the same."""
    if name in ROLES and ROLES[name] != doc:
        raise NameError(f"module role '{name}' is already registered: {ROLES[name]}")
    ROLES[name] = doc
    return name


@dataclass(frozen=True)
class _Port:
    kind: PortKind
    doc: str = ""
    static: bool | None = field(default=None, kw_only=True)
    warn_unconnected: bool = field(default=False, kw_only=True)
    role: str | tuple[str, ...] | None = field(default=None, kw_only=True)
    writes: bool = field(default=False, kw_only=True)

    def __post_init__(self) -> None:
        kind = as_kind(self.kind)
        object.__setattr__(self, "kind", kind)
        if self.static is None:
            object.__setattr__(self, "static", kind.static)
        if self.writes and kind is not Kind.MODULE:
            raise TypeError(f"writes=True on a {kind} port: only module ports name a "
                            f"network a node changes")
        if self.role is not None:
            roles = (self.role,) if isinstance(self.role, str) else tuple(self.role)
            if kind is not Kind.MODULE:
                raise TypeError(f"role {roles} on a {kind} port: only module ports have "
                                f"roles")
            unknown = [r for r in roles if r not in ROLES]
            if unknown or not roles:
                raise TypeError(f"unknown module role(s) {unknown}; roles: "
                                + ", ".join(ROLES) + " (rlgraph.core.ports.register_role "
                                "adds one)")
            object.__setattr__(self, "role", roles)

    @property
    def roles(self) -> tuple[str, ...]:
        """The module roles declared (empty: any module, or one not told)."""
        return self.role or ()  # type: ignore[return-value]


@dataclass(frozen=True)
class In(_Port):
    """An input port declaration.

    optional: the node also fires when nothing is connected or the value is absent
        (it then receives None).
    static: the value is fixed at build time and passed to `setup`, not to `step`;
        by default modules, specs and buffers are static.
    warn_unconnected: for optional inputs that usually matter, warn when unconnected.
    role: for module ports, the role(s) of network this input takes (any of them, see
        ROLES); None takes any module (an optimizer, a target network).
    writes: for module ports, the node changes the module's parameters when it fires
        (an optimizer); the graph must order it against the nodes that read the module.
    grad: for module ports, what the node emits carries autograd graphs through the
        module (a loss's prediction); the module must not change between this node and
        the optimizer that differentiates its output.
    """

    optional: bool = field(default=False, kw_only=True)
    grad: bool = field(default=False, kw_only=True)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.grad and self.kind is not Kind.MODULE:
            raise TypeError(f"grad=True on a {self.kind} port: only module ports name a "
                            f"network a node differentiates through")


@dataclass(frozen=True)
class Out(_Port):
    """An output port declaration; static outputs are returned by `setup`.

    warn_unconnected: warn when no node reads this output (it usually matters).
    role: for module ports, the role(s) the module plays (see ROLES).
    like: the name of an input whose module this output copies (a target network of
        a Q-network is a Q-network): its roles are those of what feeds that input.
    writes: for module ports, the node changes this module when it fires (a target
        network's copy); the graph must order it against the nodes that read it.
    """

    like: str | None = field(default=None, kw_only=True)


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"

    def __reduce__(self) -> str:
        return "REQUIRED"  # pickled as the module's one instance (specs go to workers)


#: Marks a parameter without a default.
REQUIRED: Any = _Required()

#: the largest integer a param may hold: an int64's (torch and numpy hold no larger)
INT_LIMIT = 2**63 - 1

_TYPE_NAMES = {int: "integer", float: "number", bool: "boolean", str: "string",
               list: "list", dict: "mapping"}


def type_name(t: type | tuple[type, ...] | None) -> str:
    if t is None:
        return "any value"
    if isinstance(t, tuple):
        return " or ".join(type_name(x) for x in t)
    return _TYPE_NAMES.get(t, t.__name__)


def value_kind(value: Any) -> str:
    """What a value from a graph file is, in the file's words: integer, number, string,
    list, mapping, boolean, null."""
    if value is None:
        return "null"
    for t in (bool, int, float, str, list, dict):  # bool first: it is an int
        if isinstance(value, t):
            return _TYPE_NAMES[t]
    return type(value).__name__


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
    schedule: the value may also be a schedule over the ticks (schedules.py); the node
        then receives a Schedule and reads `self.<param>.at(self.clock.tick)`.
    finite: numbers must be finite: NaN and +-inf are refused (set False for a param
        whose meaning includes them). Integers are at most INT_LIMIT in magnitude
        whatever the bounds: what torch and numpy hold.
    at_most: "input.param": a warning at load when the value is larger than that param
        of the node wired to that input (a sampler's batch_size larger than its
        buffer's capacity never fills a batch).
    """

    type: type | tuple[type, ...] | None
    default: Any = REQUIRED
    doc: str = ""
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: Sequence[Any] | None = None
    item: builtins.type | None = None
    min_len: int | None = field(default=None)
    schedule: bool = False
    finite: bool = True
    at_most: str | None = None

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
        if self.schedule:
            parts[0] += " or a schedule"
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
        """Validate a value; return (normalized value, problem or None). A schedule
        param's value is a Schedule (see schedules.py); its points are checked like a
        plain value, except that a schedule may end on an open bound (lr -> 0)."""
        if self.schedule and value is not None and not isinstance(value, bool):
            closed = replace(self, schedule=False, low_open=False, high_open=False)
            if isinstance(value, Mapping):
                return _scheduled(value, closed)
            checked, problem = replace(self, schedule=False).check(value)
            return (value, problem) if problem else (Schedule.constant(checked), None)
        return self._check_value(value)

    def _check_value(self, value: Any) -> tuple[Any, str | None]:
        if value is None:
            if self.default is None:
                return None, None
            return value, f"must be {type_name(self.type)}, got null"
        t = self.type
        if t is not None:
            types = t if isinstance(t, tuple) else (t,)
            if not any(_is_instance(value, x) for x in types):
                return value, f"must be {type_name(t)}, got {value_kind(value)} {shown(value)}"
            if float in types and int not in types and isinstance(value, int):
                value = float(value)
        problem = self._number_problem(value)
        if problem:
            return value, problem
        if self.item is not None and isinstance(value, list):
            for i, v in enumerate(value):
                if not _is_instance(v, self.item):
                    return value, (f"item {i} must be {type_name(self.item)}, "
                                   f"got {value_kind(v)} {shown(v)}")
                problem = self._number_problem(v)
                if problem:
                    return value, f"item {i} {problem}"
        if self.min_len is not None and len(value) < self.min_len:
            return value, f"must have at least {self.min_len} item(s), got {len(value)}"
        if self.choices is not None and value not in self.choices:
            allowed = ", ".join(repr(c) for c in self.choices)
            return value, f"must be one of {allowed}, got {shown(value)}"
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            too_low = self.low is not None and (
                value <= self.low if self.low_open else value < self.low)
            too_high = self.high is not None and (
                value >= self.high if self.high_open else value > self.high)
            if too_low or too_high:
                return value, f"must be {self._range_text()}, got {shown(value)}"
        return value, None

    def _number_problem(self, value: Any) -> str | None:
        """NaN or infinity where a finite number is meant; an integer no tensor holds."""
        if isinstance(value, bool):
            return None
        if isinstance(value, float) and self.finite and not math.isfinite(value):
            return f"must be a finite number, got {value}"
        if isinstance(value, int) and abs(value) > INT_LIMIT:
            return f"must be at most 2**63 - 1 in magnitude, got a number of " \
                   f"{len(str(abs(value)))} digits"
        return None


def _scheduled(value: Mapping[str, Any], param: Param) -> tuple[Any, str | None]:
    def problem(v: Any) -> str | None:
        return param.check(v)[1]
    schedule, why = parse_schedule(value, problem)
    return (value, why) if why else (schedule, None)


class _Absent:
    """The value of a port that emitted nothing this tick."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "ABSENT"

    def __bool__(self) -> bool:
        return False

    def __reduce__(self) -> str:
        return "ABSENT"  # pickled as the module's one instance: `is ABSENT` holds after


ABSENT: Any = _Absent()
