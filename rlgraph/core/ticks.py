"""The tick loop as generated Python: a graph's schedule compiled into one function.

At build the ordered ops (which node fires, where it reads and writes, when it fires)
become the source of a function `run(t, end) -> t` that runs ticks t .. end - 1: per
tick it reads the delay lines, then, for each node in order, checks its triggers with
its numbers written in (`if t >= 1000 and t % 4 == 0:`), gathers its inputs from the
value slots, calls its `step` by keyword and writes what it returned; a `repeat` becomes
a loop over the node and its cone. No dict of ports, no loop over declarations and no
validation runs inside it: what the checks found at load is what it is built from.
`Graph.tick_source` shows the source, so the schedule can be read as code.
"""

from __future__ import annotations

import re
import sys
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from itertools import repeat
from keyword import iskeyword
from typing import Any

from .ports import ABSENT

NEVER = sys.maxsize


@dataclass(frozen=True)
class Op:
    """One node's place in the tick: where it reads, where it writes, when it fires."""

    name: str
    step: Callable[..., Any]
    inputs: tuple[tuple[str, int, bool], ...]  # (port, slot, required)
    outputs: tuple[tuple[str, int], ...]  # (port, slot)
    every: int
    after: int
    until: int
    on_slot: int  # slot of the `on:` event, or -1 for tick triggers
    index: int  # position in the schedule; indexes the `on:` counters


@dataclass(frozen=True)
class DelayLine:
    """A delayed wire: what `src` emitted `len(line)` ticks ago is read into `dst`.

    A delayed wire between two nodes of one `repeat` burst (`burst`: its root) counts
    repetitions instead: it starts from `init` at every burst and delivers what the
    source emitted k repetitions earlier in the same burst (feedback within a burst:
    PPO's KL early stop)."""

    line: deque
    src: int
    dst: int
    init: Any  # the value before the delay has filled (ABSENT, or the wire's init)
    burst: str | None = None


class _Writer:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.names: dict[str, Any] = {"ABSENT": ABSENT}
        self.bursts: dict[str, list[DelayLine]] = {}  # root -> its burst's delay lines

    def emit(self, depth: int, line: str) -> None:
        self.lines.append("    " * depth + line)

    def bind(self, prefix: str, value: Any, label: str = "") -> str:
        """A name for `value` in the generated source: prefix_label, made unique."""
        base = f"{prefix}_{re.sub(r'[^0-9A-Za-z_]', '_', label)}" if label else prefix
        name, n = base, 1
        while name in self.names:
            name, n = f"{base}_{n}", n + 1
        self.names[name] = value
        return name


def generate(ops: list[Op], repeats: dict[str, tuple[int, list[str]]],
             delay_lines: list[DelayLine]) -> tuple[str, dict[str, Any]]:
    """The source of `run(t, end)` and the names it uses (steps, delay lines)."""
    w = _Writer()
    per_tick = [d for d in delay_lines if d.burst is None]
    w.bursts = {root: [d for d in delay_lines if d.burst == root] for root in repeats}
    by_name = {op.name: op for op in ops}
    in_cone = {name for _, cone in repeats.values() for name in cone}
    w.emit(0, "def run(t, end):")
    w.emit(1, "s, counts, clock = slots, counts_, clock_")
    w.emit(1, "while t < end:")
    w.emit(2, "clock.tick = t")
    for d in per_tick:
        w.emit(2, f"s[{d.dst}] = {w.bind('line', d.line)}[0]")
    for op in ops:
        if op.name in in_cone:
            continue
        times, cone = repeats.get(op.name, (1, []))
        _emit_op(w, 2, op, times, [by_name[n] for n in cone])
    for d in per_tick:
        w.emit(2, f"{w.bind('line', d.line)}.append(s[{d.src}])")
    w.emit(2, "t += 1")
    w.emit(1, "return t")
    return "\n".join(w.lines) + "\n", w.names


def _emit_op(w: _Writer, depth: int, op: Op, times: int, cone: list[Op]) -> None:
    """The code of one op: trigger, inputs, the call (repeated with its cone), outputs."""
    w.emit(depth, f"# {op.name}")
    absent = [slot for o in (op, *cone) for _, slot in o.outputs]
    conditions = _trigger(w, depth, op)
    required = [f"s[{slot}] is not ABSENT" for _, slot, req in op.inputs if req]
    test = " and ".join(conditions + required)
    inner = depth
    if test:
        w.emit(depth, f"if {test}:")
        inner = depth + 1
    body = inner
    local = w.bursts.get(op.name, [])
    lines = [(d, w.bind("line", d.line), w.bind("init", d.init)) for d in local]
    for d, line, init in lines:  # feedback within a burst starts anew with each burst
        w.emit(inner, f"{line}.clear(); {line}.extend(_repeat({init}, {d.line.maxlen}))")
    if times > 1:
        w.emit(inner, f"for _ in range({times}):")
        body = inner + 1
    for d, line, _ in lines:
        w.emit(body, f"s[{d.dst}] = {line}[0]")
    _emit_call(w, body, op)
    for member in cone:
        _emit_op(w, body, member, 1, [])
    for d, line, _ in lines:
        w.emit(body, f"{line}.append(s[{d.src}])")
    if test and absent:
        w.emit(depth, "else:")
        _emit_absent(w, depth + 1, absent)


def _trigger(w: _Writer, depth: int, op: Op) -> list[str]:
    """The conditions of the op's triggers; `on:` counting is emitted before them."""
    count = "t"
    conditions = []
    if op.on_slot >= 0:
        conditions.append(f"s[{op.on_slot}] is not ABSENT")
        count = f"counts[{op.index}]"
    checks = []
    if op.after:
        checks.append(f"{count} >= {op.after}")
    if op.until != NEVER:
        checks.append(f"{count} < {op.until}")
    if op.every != 1:
        checks.append(f"{count} % {op.every} == 0")
    if op.on_slot < 0:
        return conditions + checks
    # counted on the ticks the event is present (the test short-circuits on the others)
    return [*conditions, f"_counted(counts, {op.index}, {op.after}, {op.until}, {op.every})"]


def _emit_call(w: _Writer, depth: int, op: Op) -> None:
    step = w.bind("step", op.step, op.name)
    args, keywords = [], []
    for port, slot, required in op.inputs:
        value = f"s[{slot}]" if required else f"_opt(s[{slot}])"
        if iskeyword(port):  # a port named like a Python keyword ('in'): passed by dict
            keywords.append(f"{port!r}: {value}")
        else:
            args.append(f"{port}={value}")
    if keywords:
        args.append("**{" + ", ".join(keywords) + "}")
    w.emit(depth, f"i_[0] = {op.index}")
    if not op.outputs:
        w.emit(depth, f"{step}({', '.join(args)})")
        return
    w.emit(depth, f"r = {step}({', '.join(args)})")
    w.emit(depth, "if r:")
    for port, slot in op.outputs:
        w.emit(depth + 1, f"s[{slot}] = r.get({port!r}, ABSENT)")
    w.emit(depth, "else:")
    _emit_absent(w, depth + 1, [slot for _, slot in op.outputs])


def _emit_absent(w: _Writer, depth: int, slots: list[int]) -> None:
    w.emit(depth, " = ".join(f"s[{slot}]" for slot in slots) + " = ABSENT")


def _opt(value: Any) -> Any:
    """An optional input: None when absent."""
    return None if value is ABSENT else value


def _counted(counts: list[int], index: int, after: int, until: int, every: int) -> bool:
    """On a tick the `on:` event is present: count it, and whether the number of earlier
    events meets the triggers."""
    count = counts[index]
    counts[index] = count + 1
    return after <= count < until and count % every == 0


def compile_run(ops: list[Op], repeats: dict[str, tuple[int, list[str]]],
                delay_lines: list[DelayLine], slots: list[Any],
                counts: list[int], clock: Any, current: list[int]
                ) -> tuple[Callable[[int, int], int], str]:
    """The generated `run(t, end)` bound to the graph's slots, counters and clock, and its
    source; `current[0]` holds the index of the op being called (for error notes)."""
    source, names = generate(ops, repeats, delay_lines)
    namespace = {**names, "slots": slots, "counts_": counts, "clock_": clock,
                 "i_": current, "_opt": _opt, "_counted": _counted, "_repeat": repeat}
    exec(compile(source, "<rlgraph tick>", "exec"), namespace)
    return namespace["run"], source
