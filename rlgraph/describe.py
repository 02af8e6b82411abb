"""Human-readable descriptions of node types, as `rlgraph nodes` prints them."""

from __future__ import annotations

import inspect

from .core import Node, Registry


def first_line(cls: type[Node]) -> str:
    doc = inspect.getdoc(cls) or ""
    return doc.splitlines()[0] if doc else "(no description)"


def list_types(registry: Registry) -> str:
    names = registry.names()
    width = max((len(n) for n in names), default=0)
    lines = []
    for name in names:
        cls = registry.resolve(name)
        lines.append(f"{name:<{width}}  {first_line(cls)}")
    return "\n".join(lines)


def describe_type(name: str, cls: type[Node]) -> str:
    """Ports, params, defaults and documentation of one node type."""
    lines = [f"{name}  ({cls.__module__}:{cls.__qualname__})", ""]
    doc = inspect.getdoc(cls)
    if doc:
        lines += ["  " + line if line else "" for line in doc.splitlines()] + [""]

    def section(title: str, rows: list[tuple[str, str, str]]) -> None:
        lines.append(f"{title}:")
        if not rows:
            lines.append("  (none)")
        width = max((len(r[0]) for r in rows), default=0)
        kwidth = max((len(r[1]) for r in rows), default=0)
        for port, what, text in rows:
            lines.append(f"  {port:<{width}}  {what:<{kwidth}}  {text}".rstrip())
        lines.append("")

    def flags(decl: object) -> str:
        kind = str(decl.kind)  # type: ignore[attr-defined]
        extra = [w for w, on in (("static", decl.static),  # type: ignore[attr-defined]
                                 ("optional", getattr(decl, "optional", False))) if on]
        return kind + (f" ({', '.join(extra)})" if extra else "")

    section("inputs", [(k, flags(p), p.doc) for k, p in cls.inputs.items()])
    section("outputs", [(k, flags(p), p.doc) for k, p in cls.outputs.items()])
    section("params", [(k, p.describe(), p.doc) for k, p in cls.params.items()])
    lines.append("triggers (every node): every N, after N, until N, on: node.port")
    return "\n".join(lines)
