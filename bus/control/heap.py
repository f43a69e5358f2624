"""The interpreter's cycle collector, tuned for a process holding a large, long-lived state.

The control plane keeps the fleet (5,000 nodes and their GPUs), the jobs and
caches of recent aggregates and decoded events: millions of live objects. With
CPython's default thresholds (700, 10, 10) a busy plane made a collection of
generation 0 every 700 allocations, promoted the events and messages in flight
into the old generation, and so ran a full collection (every live object
walked: ~0.3 s at that size) every second or two. Measured on the P1 bench
(tests/bench/bench_p1.py), the collector took 8 of 40 s, and placement
throughput doubled without it.

`tune_collector(threshold)` raises the first threshold (objects allocated
before a young collection) so that short-lived objects die young, which makes
full collections rare; nothing is disabled or frozen, so cyclic garbage is
still collected. It is process-wide: the composition root decides
(`ControlSettings.gc_threshold`, 0 = leave the interpreter's setting), and a
threshold already above the asked one is kept.
"""

from __future__ import annotations

import gc


def tune_collector(threshold: int) -> tuple[int, int, int]:
    """Raise generation 0's threshold to at least `threshold` (0: unchanged); returns the thresholds now."""
    first, second, third = gc.get_threshold()
    if threshold > first:
        gc.set_threshold(threshold, max(second, 20), max(third, 10))
    return gc.get_threshold()
