"""Keeping Python's cyclic garbage collector out of a catch-up.

A rebuild leaves millions of long-lived objects behind (views, index entries,
converter state) and keeps a batch of decoded envelopes alive at any time;
CPython's collections walk them over and over: measured on a 200,000-event
rebuild of the registry and the ClickHouse tables, 4.1 s of 20.7 s went to the
collector. The fold itself creates almost no cyclic garbage (467 objects for
those 200,000 events), and reference counting frees everything else at once,
so the collector is paused for the catch-up (`begin`) and restored after it
(`end`). What the catch-up built is frozen then (`gc.freeze`: moved out of
every generation the collector walks) rather than collected: a full
collection at that point walks every object built (0.5-1 s after a
million events) to find the few hundred cycles the fold left, and later
full collections would walk them again. The price is those few cycles kept
for the life of the process; cyclic garbage made after the catch-up is
collected as usual. A catch-up whose result is dropped later (a past state
for time travel) passes `freeze=False`: it is collected at the end instead,
so what it built can be freed whole.

Process-wide by nature (there is one collector): nested or concurrent pauses
restore the state found by the first `begin` when the last one ends.
"""

from __future__ import annotations

import gc

_depth = 0
_was_enabled = True


class CollectorPause:
    def __init__(self, *, freeze: bool = True) -> None:
        self.active = False
        self.freeze = freeze

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
            if self.freeze:
                gc.freeze()
            else:
                gc.collect()
            gc.enable()
