"""Keeping Python's cycle collector out of a placed run's way.

A placed run's processes allocate many short-lived objects per tick (the workers record
and pack each tick's outputs, the learner unpacks a record and a tensor per field for
each tick), and keep a fragment's worth of them alive at a time. With Python's
defaults, that fills the collector's young generation about once per fragment, and
every few tens of thousands of ticks a full collection walks every object of the
process: the graph, torch's and Ray's modules (~260,000 objects in a learner, ~150 ms
a walk). On the CartPole collection benchmark that cost the learner 2.5–4 µs per tick
for the full walks and ~1.4 µs for the young ones, of the ~24 µs its main thread spent
per tick (tools/bench_placement_ticks.py), and the workers as much.

Neither walk finds anything: the per-tick values hold no reference cycles, reference
counting frees them. So while a placed run runs, the objects that existed when it
started are moved out of the collector's sight (`gc.freeze`), and the young generation
is collected after YOUNG_THRESHOLD net allocations instead of 700. Cycles among the
frozen objects wait for `thaw`; newer ones are still collected.
"""

from __future__ import annotations

import gc

#: net allocations of tracked objects between young-generation collections while a
#: placed run runs: several fragments' worth of per-tick values (a 128-tick CartPole
#: fragment makes ~1,000), which reference counting frees first
YOUNG_THRESHOLD = 20_000

#: the collector's thresholds, as gc.get_threshold() gives them
Thresholds = tuple[int, int, int]


def freeze() -> Thresholds:
    """Collect the garbage there is, then keep the collector off every object alive now
    and collect the young generation less often; the thresholds it had, for `thaw`."""
    gc.collect()
    gc.freeze()
    before = gc.get_threshold()
    if before[0]:  # 0: whoever runs the process turned collections off; so be it
        gc.set_threshold(max(before[0], YOUNG_THRESHOLD), before[1], before[2])
    return before


def thaw(thresholds: Thresholds) -> None:
    """Give the collector back the objects `freeze` hid from it, and its thresholds."""
    gc.unfreeze()
    gc.set_threshold(*thresholds)
