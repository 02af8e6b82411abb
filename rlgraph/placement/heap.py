"""Keeping Python's cycle collector off the long-lived objects of a placed run.

A placed run's processes allocate many short-lived objects per tick (the workers record
and pack each tick's outputs, the learner unpacks a tensor per field and tick), so
the collector's young generations fill quickly and, every few tens of thousands of
ticks, a full collection walks every object of the process: the graph, torch's and
Ray's modules (~260,000 objects in a learner, ~150 ms a walk). Measured on the
CartPole collection benchmark, that came to ~2.5 µs per tick in the learner, a tenth
of its share, and as much in each worker. Objects that live for the whole run (what
existed when it started) are moved out of the collector's sight (`gc.freeze`) while
it runs: reference counting still frees them, only cycles among them wait for `thaw`.
"""

from __future__ import annotations

import gc


def freeze() -> None:
    """Collect the garbage there is, then keep the collector off every object alive now."""
    gc.collect()
    gc.freeze()


def thaw() -> None:
    """Give the collector back the objects `freeze` hid from it."""
    gc.unfreeze()
