"""Human-readable descriptions of node types, as `rlgraph nodes` prints them."""

from __future__ import annotations

import inspect

from .core import (
    Acting,
    CountsEnvSteps,
    Environment,
    In,
    Node,
    Out,
    PlansMemory,
    Registry,
    RowSource,
    UsesGraph,
)


def first_line(cls: type[Node]) -> str:
    doc = inspect.getdoc(cls) or ""
    return doc.splitlines()[0] if doc else "(no description)"


TRIGGERS = ("every N, after N, until N, on: node.port, repeat N, "
            "order: {after: [...], before: [...]}")


def list_types(registry: Registry) -> str:
    names = registry.names()
    width = max((len(n) for n in names), default=0)
    lines = []
    for name in names:
        cls = registry.resolve(name)
        lines.append(f"{name:<{width}}  {first_line(cls)}")
    lines += ["", f"triggers (every node): {TRIGGERS}",
              "`rlgraph nodes TYPE` shows a type's ports, params and documentation"]
    return "\n".join(lines)


def describe_type(name: str, cls: type[Node]) -> str:
    """Ports, params, defaults and documentation of one node type."""
    lines = [f"{name}  ({cls.__module__}:{cls.__qualname__})", ""]
    doc = inspect.getdoc(cls)
    if doc:
        lines += ["  " + line if line else "" for line in doc.splitlines()] + [""]
    for base in node_bases(cls):  # what "see Optimizer" refers to
        lines.append(f"from {base.__name__} ({base.__module__}:{base.__qualname__}):")
        lines += ["  " + line if line else ""
                  for line in inspect.cleandoc(base.__doc__ or "").splitlines()] + [""]

    def section(title: str, rows: list[tuple[str, str, str]]) -> None:
        lines.append(f"{title}:")
        if not rows:
            lines.append("  (none)")
        width = max((len(r[0]) for r in rows), default=0)
        kwidth = max((len(r[1]) for r in rows), default=0)
        for port, what, text in rows:
            lines.append(f"  {port:<{width}}  {what:<{kwidth}}  {text}".rstrip())
        lines.append("")

    section("inputs", [(k, port_flags(p), p.doc) for k, p in cls.inputs.items()])
    section("outputs", [(k, port_flags(p), p.doc) for k, p in cls.outputs.items()])
    section("params", [(k, p.describe(), p.doc) for k, p in cls.params.items()])
    roles = protocols(cls)
    if roles:
        lines += ["is:"] + [f"  {text}" for text in roles] + [""]
    lines.append(f"triggers (every node): {TRIGGERS}")
    return "\n".join(lines)


def node_bases(cls: type[Node]) -> list[type[Node]]:
    """The node classes `cls` inherits from (not Node itself) that document themselves:
    their documentation applies to `cls` too."""
    return [base for base in cls.__mro__[1:]
            if isinstance(base, type) and issubclass(base, Node) and base is not Node
            and "__doc__" in vars(base) and base.__doc__]


def port_flags(decl: In | Out) -> str:
    """'module (static, role q)': the kind, then static / optional / roles / like /
    grad / writes."""
    extra = [w for w, on in (("static", decl.static),
                             ("optional", isinstance(decl, In) and decl.optional)) if on]
    if decl.roles:
        extra.append("role " + " or ".join(decl.roles))
    if isinstance(decl, Out) and decl.like:
        extra.append(f"role of what feeds '{decl.like}'")
    if isinstance(decl, In) and decl.grad:
        extra.append("grad")  # the node's outputs carry gradients through it
    if decl.writes:
        extra.append("writes")  # the node changes the module when it fires
    return str(decl.kind) + (f" ({', '.join(extra)})" if extra else "")


def protocols(cls: type[Node]) -> list[str]:
    """What the workflow can ask of the node type (rlgraph.core.protocols), in words."""
    out = []
    if issubclass(cls, Environment):
        out.append("an environment: evaluation plays fresh copies of it; counts env steps")
    elif issubclass(cls, CountsEnvSteps):
        out.append("counts env steps")
    if issubclass(cls, Acting):
        how = {"greedy": "acts greedily", "deterministic": "acts deterministically",
               "pass": "hands on what it gets"}.get(cls.act_mode, f"acts ({cls.act_mode})")
        out.append(f"acting: in evaluation it {how}, changing no state")
    if issubclass(cls, RowSource):
        out.append(f"a row source: a run writes its rows to {cls.log_name}.csv "
                   f"({', '.join(cls.row_fields)})")
    if issubclass(cls, UsesGraph):
        out.append("works on the built graph as a whole")
    if issubclass(cls, PlansMemory):
        out.append("plans its memory: the build reserves what it will allocate")
    return out
