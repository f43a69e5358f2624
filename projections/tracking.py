"""Tracking positions: the last stream sequence a projection applied.

The rule every projection follows (DESIGN.md, "The log"): an event at or below
the position was applied already and is skipped; one above it is applied and
moves the position, in the same step as its effect. Projections are fed in
stream order (bus.read.replay/follow), so one number is a complete record of
what was applied — the eventsourcing library's tracking records, reduced to
what an ordered reader needs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from schemas import Envelope

Batch = Sequence[tuple[Envelope, int]]  # (envelope, stream sequence), ascending


class Projection(Protocol):
    """What the runner drives: a name, a stored position, batches to apply, a reset for rebuilds.

    Optional attributes the runner reads: `aggregates` (the aggregate types it
    needs decoded; others only move the position), `blocking` (True: apply
    in a worker thread) and `bulk(on: bool)` (called with True before a
    catch-up and False after it: work only readers need may wait until then).
    """

    name: str

    def position(self) -> int: ...

    def reset(self) -> None:
        """Forget every effect and the position (a rebuild from sequence 1 follows)."""
        ...

    def apply_batch(self, batch: Batch) -> int:
        """Apply the events above the position, store the new position with them; returns how many applied."""
        ...


def unseen(batch: Batch, position: int) -> list[tuple[Envelope, int]]:
    """The part of `batch` above `position` (a redelivered or replayed prefix is dropped)."""
    return [(env, seq) for env, seq in batch if seq > position]
