"""The Node base class: an interface declared as data, a body written as plain code."""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn

from . import memory
from .errors import choices_hint
from .ports import In, Out, Param
from .schedules import Schedule


class NodeDefinitionError(TypeError):
    """A node class whose declarations are malformed (a bug in the node's code)."""


class NodeConfigError(ValueError):
    """A node constructed with bad parameters or static inputs, or fed inputs it cannot
    take. `node` names the node the problem belongs to when another node's call found
    it (a sampler flushing a replay buffer's rows); by default it is the one that raised.
    """

    def __init__(self, message: str, *, port: str | None = None, hint: str | None = None,
                 node: str | None = None):
        super().__init__(message)
        self.message = message
        self.port = port
        self.hint = hint
        if node is not None:
            self.node = node


class Clock:
    """The tick counter of a running graph, shared by all its nodes."""

    __slots__ = ("tick", "total")

    def __init__(self, total: int | None = None) -> None:
        self.tick = 0
        self.total = total  # the run's length in ticks (the graph's steps), if known


#: Attribute names of Node that a parameter or port may not shadow.
RESERVED = frozenset({"name", "seed", "clock", "device", "repeat", "setup", "step", "close",
                      "static_outputs", "state_dict", "load_state_dict", "inputs", "outputs",
                      "params", "fail", "report", "fires", "reserve"})


class Node:
    """Base class of every rlgraph node.

    Declare the interface on the class:

    - ``inputs``: name -> In(kind, doc, optional=..., static=...)
    - ``outputs``: name -> Out(kind, doc, static=...)
    - ``params``: name -> Param(type, default, doc, ...)

    Then write the body:

    - ``setup(**static_inputs)`` runs once at build with the static inputs (specs,
      modules, buffers) and returns the static outputs as a dict.
    - ``step(**stream_inputs)`` runs on every tick where the node fires and returns a
      dict of the stream outputs it emits; a missing key (or returning None) leaves
      that output absent this tick. Absent optional inputs arrive as None.

    Parameters become attributes (``self.gamma``). ``self.seed`` is the node's own seed,
    derived from the graph seed; ``self.clock.tick`` is the current tick (and
    ``self.clock.total`` the run's length in ticks, when known); ``self.repeat`` how
    many times the node runs each time it fires (its `repeat` trigger);
    ``self.device`` is the graph's device name (cpu, cuda, cuda:N, mps or auto): nodes
    that allocate tensors or modules resolve it with ``rlgraph.nodes.device.torch_device``.
    Nodes with state override ``state_dict`` / ``load_state_dict``.

    Values on wires are shared, never copied: a node must not write into a value it
    received or emitted (it returns new tensors instead), so that receivers, delayed
    wires and replay buffers can keep them by reference.
    """

    inputs: ClassVar[Mapping[str, In]] = {}
    outputs: ClassVar[Mapping[str, Out]] = {}
    params: ClassVar[Mapping[str, Param]] = {}
    #: keeps state per env row across ticks (an n-step window, say), so it must see each
    #: env's stream whole and in order: in a placed run it runs beside the env, on every
    #: worker, never on a learner that interleaves the workers' fragments
    follows_env: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        check_declarations(cls)

    def __init__(self, *, name: str | None = None, seed: int = 0,
                 clock: Clock | None = None, device: str = "cpu", repeat: int = 1,
                 **kwargs: Any) -> None:
        self.name = name or type(self).__name__
        self.seed = seed
        self.clock = clock or Clock()
        self.device = device
        self.repeat = repeat
        values, statics = bind_arguments(type(self), kwargs, self.clock.total)
        for key, value in values.items():
            setattr(self, key, value)
        produced = self.setup(**statics) or {}
        declared = {k for k, p in self.outputs.items() if p.static}
        if set(produced) != declared:
            raise NodeDefinitionError(
                f"{type(self).__name__}.setup returned static outputs {sorted(produced)}, "
                f"but the class declares {sorted(declared)}")
        self.static_outputs: dict[str, Any] = dict(produced)

    if TYPE_CHECKING:
        # Each node type declares its own keyword parameters (its ports); typed as
        # callables so that type checkers accept every signature (check_signature
        # checks them against the declarations when the class is defined).
        setup: Callable[..., Mapping[str, Any] | None]
        step: Callable[..., Mapping[str, Any] | None]
    else:
        def setup(self, **static_inputs: Any) -> Mapping[str, Any] | None:
            """Build-time work: receives static inputs, returns static outputs."""
            return None

        def step(self, **inputs: Any) -> Mapping[str, Any] | None:
            """One firing: receives stream inputs, returns stream outputs."""
            return None

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume this node exactly; empty for stateless nodes."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state:
            raise NodeConfigError(f"{type(self).__name__} has no state to load, "
                                  f"but was given keys {sorted(state)}")

    def report(self) -> dict[str, float]:
        """Numbers worth showing a person (progress bar, end-of-run summary); read
        between chunks of ticks, never inside the tick loop."""
        return {}

    def close(self) -> None:
        """Release resources (environments, files) at the end of a run."""

    def reserve(self, nbytes: int, what: str, *, hint: str | None = None) -> None:
        """Call before allocating memory in proportion to params (a buffer, a network):
        a NodeConfigError naming the estimate and the machine's memory when `nbytes`
        cannot fit next to what the graph's other nodes reserved (core/memory.py)."""
        problem = memory.reserve(nbytes, f"{self.name} ({what})")
        if problem:
            raise NodeConfigError(problem, hint=hint or "make it smaller")

    def fail(self, message: str, *, port: str | None = None, hint: str | None = None
             ) -> NoReturn:
        """Report a user mistake found at build time (e.g. a spec the node cannot use)."""
        raise NodeConfigError(message, port=port, hint=hint)

    @classmethod
    def fires(cls) -> bool:
        """Whether the node does per-tick work (overrides `step`)."""
        return cls.step is not Node.step

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


def check_declarations(cls: type[Node]) -> None:
    """Reject malformed interface declarations when the class is defined."""
    for attr, decl_type in (("inputs", In), ("outputs", Out), ("params", Param)):
        table = getattr(cls, attr)
        if not isinstance(table, Mapping):
            raise NodeDefinitionError(
                f"{cls.__name__}.{attr} must be a dict of name -> {decl_type.__name__}(...), "
                f"got {type(table).__name__}")
        for key, decl in table.items():
            if not isinstance(key, str) or not key.isidentifier():
                raise NodeDefinitionError(f"{cls.__name__}.{attr}: {key!r} is not a valid name")
            if key in RESERVED:
                raise NodeDefinitionError(
                    f"{cls.__name__}.{attr}: {key!r} is reserved by Node; choose another name")
            if not isinstance(decl, decl_type):
                raise NodeDefinitionError(
                    f"{cls.__name__}.{attr}[{key!r}] must be {decl_type.__name__}(...), "
                    f"got {decl!r}")
    clash = set(cls.params) & set(cls.inputs)
    if clash:
        raise NodeDefinitionError(
            f"{cls.__name__}: {sorted(clash)} declared both as param and as input")
    stream = {k: p for k, p in cls.inputs.items() if not p.static}
    static = {k: p for k, p in cls.inputs.items() if p.static}
    check_signature(cls, "step", stream, "stream", cls.fires())
    check_signature(cls, "setup", static, "static", cls.setup is not Node.setup)


def check_signature(cls: type, method: str, ports: Mapping[str, In], timing: str,
                    defined: bool) -> None:
    """`step` takes exactly the declared stream inputs and `setup` the static ones, by
    keyword; an optional stream input, which is not passed when unconnected, needs a
    default. Checked when the class is defined, so that a mismatch is the node author's
    error at import, not a TypeError at tick 0."""
    where = f"{cls.__name__}.{method}()"
    if not defined:  # the base's (**inputs): an interface-only node, drawn or checked
        return
    params = list(inspect.signature(getattr(cls, method)).parameters.values())[1:]
    takes_any = any(p.kind is p.VAR_KEYWORD for p in params)
    named = {p.name: p for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    odd = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.VAR_POSITIONAL)]
    if odd:
        raise NodeDefinitionError(f"{where} takes {odd} positionally; inputs arrive by "
                                  f"keyword (their port names)")
    extra = [name for name in named if name not in ports]
    if extra:
        raise NodeDefinitionError(
            f"{where} takes {extra}, which {'is not a' if len(extra) == 1 else 'are not'} "
            f"declared {timing} input{'' if len(extra) == 1 else 's'} of {cls.__name__} "
            f"(declared: {sorted(ports) or 'none'})")
    missing = [name for name in ports if name not in named and not takes_any]
    if missing:
        raise NodeDefinitionError(
            f"{where} does not take the declared {timing} input(s) {missing}; add them as "
            f"parameters")
    if timing == "stream":
        no_default = [name for name, port in ports.items() if port.optional
                      and name in named and named[name].default is inspect.Parameter.empty]
        if no_default:
            raise NodeDefinitionError(
                f"{where}: optional input(s) {no_default} need a default (e.g. "
                f"{no_default[0]}=None): an unconnected optional input is not passed")


def bind_arguments(cls: type[Node], kwargs: Mapping[str, Any],
                   total_ticks: int | None = None) -> tuple[dict, dict]:
    """Split constructor keywords into checked params and static inputs; schedules over
    the run get its length, `total_ticks`."""
    values: dict[str, Any] = {}
    statics: dict[str, Any] = {}
    static_ports = {k for k, p in cls.inputs.items() if p.static}
    for key, value in kwargs.items():
        if key in cls.params:
            checked, problem = cls.params[key].check(value)
            if problem:
                raise NodeConfigError(f"param '{key}' {problem}")
            if isinstance(checked, Schedule):
                try:
                    checked = checked.bind(total_ticks)
                except ValueError as exc:
                    raise NodeConfigError(
                        f"param '{key}': {exc}", hint="give the graph 'steps: N' (or "
                        "--steps N), or the schedule 'ticks: N'") from None
            values[key] = checked
        elif key in static_ports:
            statics[key] = value
        else:
            names = list(cls.params) + sorted(static_ports)
            raise NodeConfigError(f"{cls.__name__} has no param or static input '{key}'",
                                  hint=choices_hint(key, names, "params"))
    for key, decl in cls.params.items():
        if key not in values:
            if decl.required:
                raise NodeConfigError(f"param '{key}' is required ({decl.doc})")
            values[key] = copy.deepcopy(decl.default)
            if decl.schedule and values[key] is not None:
                values[key] = Schedule.constant(values[key])
    for key in static_ports:
        if key not in statics:
            if not cls.inputs[key].optional:
                raise NodeConfigError(f"static input '{key}' is required", port=key)
            statics[key] = None
    return values, statics
