"""Memory a graph will take, estimated from its params before anything is allocated.

A replay buffer of `capacity: 1000000000`, a network of `hidden: [30000, 30000]` or a
`delay: 1000000000` is a typo that would fill the machine's memory minutes into a run
(or swap it to a standstill). The build asks first: each node that allocates in
proportion to its params calls `Node.reserve(nbytes, what)` before allocating (a network
in setup, a replay buffer from the env's spec), delay lines are counted from their
delays, and what the graph's nodes reserve together is compared with the memory this
machine has available. What cannot fit is a located error naming the estimate and the
machine's memory; nothing has been allocated by then.

Estimates are what the node will hold at its largest (a buffer once full, a network's
weights and gradients), not counting the Python process itself.
"""

from __future__ import annotations

import contextvars
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

#: a delay line's slot once the run fills it: the deque's pointer and a small tensor
#: (measured: 8 + ~540 bytes for a 1-element int64 tensor)
DELAY_SLOT_BYTES = 550


def machine_memory() -> tuple[int, int]:
    """(available, total) bytes of memory: /proc/meminfo's MemAvailable and MemTotal
    where there is one, else the physical pages (all counted as available)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            fields = dict(line.split(":", 1) for line in f if ":" in line)
        kib = {k: int(v.split()[0]) * 1024 for k, v in fields.items()
               if k in ("MemAvailable", "MemTotal")}
        return kib["MemAvailable"], kib["MemTotal"]
    except (OSError, KeyError, ValueError, IndexError):
        pass
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        return total, total
    except (OSError, ValueError, AttributeError):  # unknown: nothing is refused
        return 2**62, 2**62


def format_bytes(n: float) -> str:
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:,.1f} {unit}"
    return f"{int(n)} bytes"


@dataclass
class Budget:
    """What the nodes of one build have reserved so far, against the memory that was
    available when the build began."""

    available: int
    total: int
    reserved: dict[str, int] = field(default_factory=dict)  # what -> bytes

    def problem(self, nbytes: int, what: str) -> str | None:
        """Why `nbytes` more (for `what`) cannot fit, or None when it can."""
        before = sum(self.reserved.values())
        if before + nbytes <= self.available:
            return None
        machine = (f"the {format_bytes(self.available)} of memory this machine has "
                   f"available ({format_bytes(self.total)} in all)")
        if nbytes > self.available or not before:
            return f"{what} would take {format_bytes(nbytes)}, more than {machine}"
        largest = sorted(self.reserved.items(), key=lambda kv: -kv[1])[:3]
        others = ", ".join(f"{name} {format_bytes(b)}" for name, b in largest)
        return (f"{what} would take {format_bytes(nbytes)}; with the "
                f"{format_bytes(before)} the graph's other parts take ({others}), that is "
                f"more than {machine}")

    def reserve(self, nbytes: int, what: str) -> str | None:
        """Count `nbytes` for `what` if it fits; else the problem (nothing counted)."""
        problem = self.problem(nbytes, what)
        if problem is None:
            self.reserved[what] = self.reserved.get(what, 0) + nbytes
        return problem


_BUDGET: contextvars.ContextVar[Budget | None] = contextvars.ContextVar("budget",
                                                                         default=None)


@contextmanager
def budget() -> Iterator[Budget]:
    """The budget of one build: reservations inside it add up."""
    available, total = machine_memory()
    current = Budget(available, total)
    token = _BUDGET.set(current)
    try:
        yield current
    finally:
        _BUDGET.reset(token)


def reserve(nbytes: int, what: str) -> str | None:
    """Reserve `nbytes` for `what` in the current build's budget (outside a build, against
    the memory available now); the problem if it cannot fit."""
    current = _BUDGET.get()
    if current is None:
        current = Budget(*machine_memory())
    return current.reserve(int(nbytes), what)
