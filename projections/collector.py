"""Keeping Python's cyclic garbage collector out of a catch-up.

A rebuild leaves millions of long-lived objects behind (views, index entries,
converter state) and keeps a batch of decoded envelopes alive at any time;
CPython's collections walk them over and over: measured on a 200,000-event
rebuild of the registry and the ClickHouse tables, 4.1 s of 20.7 s went to the
collector. The fold itself creates almost no cyclic garbage (467 objects for
those 200,000 events), and reference counting frees everything else at once,
so the collector is paused for the catch-up (`begin`) and restored after it
(`end`, which runs one full collection then: the cost is paid once, inside
the catch-up, instead of by whatever allocates next).

Process-wide by nature (there is one collector): nested or concurrent pauses
restore the state found by the first `begin` when the last one ends.
"""

from __future__ import annotations

import gc

_depth = 0
_was_enabled = True


class CollectorPause:
    def __init__(self) -> None:
        self.active = False

    def begin(self) -> None:
        global _depth, _was_enabled
        if self.active:
            return
        self.active = True
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _depth += 1

    def end(self) -> None:
        global _depth
        if not self.active:
            return
        self.active = False
        _depth -= 1
        if _depth == 0 and _was_enabled:
            gc.enable()
            gc.collect()
