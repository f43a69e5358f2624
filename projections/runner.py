"""Drives projections from the log: catch up from their stored positions, then follow, in batches.

- `catch_up()` scans `EVT` (bus.scan: each sequence once, in order, read in
  bulk on its own connection) from the lowest position + 1 to the end that
  existed when it started, in batches of `catch_up_batch` events; a scan
  that stops short of that end is resumed from the position reached.
  `catch_up(until=N)` stops after sequence N (a past state, for time
  travel: gateway as_of reads, `tessera replay --until-seq`).
- `resume_from(seq)`: the projections were restored from snapshots
  (projections.snapshots); projections without one (transient trackers)
  start there too.
- `run(stop)` catches up, then follows new events (bus.read.follow), applying
  what has arrived whenever `batch_size` is reached or the log goes quiet for
  `flush_interval` seconds.
- `rebuild()` resets every projection and catches up from sequence 1 (T7).

One runner feeds any number of projections from one read of the log: each
event is decoded once and the same envelope is handed to every projection
that reads its aggregate (`aggregates`, taken from the subject
`evt.<tenant>.<aggregate>.<id>.<event>`; None = all). Each projection keeps
its own tracking position and drops what it already has, so projections at
different positions share one replay from the lowest of them.

An event that cannot be decoded is handed to `on_skipped(seq, error)`
(recorded in `skipped`) and passed over: retrying cannot fix its bytes. A
transient store error is retried with backoff, the same batch again; the
projection's own tracking makes a retried or replayed prefix a no-op. No
durable consumer is involved (strict order, no acks): the position lives with
the projection. Blocking projections (`blocking = True`, e.g. the ClickHouse
sink) are applied in a worker thread (batches.py), and one batch is applied
while the next is read and decoded; batches are applied in order, one at a
time. A catch-up is bracketed by `bulk(True)` / `bulk(False)` on projections
that have it (the registry builds its indexes once, at the end), and pauses
the cyclic garbage collector (collector.py; `long_lived=False` for
projections that are dropped later, such as past states).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import Any

from nats.aio.client import Client

from bus.direct import StoredMsg
from bus.read import follow
from bus.scan import scan
from projections.batches import BatchApplier
from projections.collector import CollectorPause
from schemas import DecodeError, decode

log = logging.getLogger("tessera.projections")


class ProjectionRunner:
    def __init__(self, nc: Client, projections: Any | Sequence[Any], *, aggregates: frozenset[str] | None = None,
                 stream: str = "EVT", batch_size: int = 1000, catch_up_batch: int = 20_000,
                 flush_interval: float = 0.1, retries: int = 5, long_lived: bool = True,
                 on_skipped: Callable[[int, str], None] | None = None) -> None:
        self.nc = nc
        self.projections = tuple(projections) if isinstance(projections, (list, tuple)) else (projections,)
        self.applier = BatchApplier(self.projections, retries=retries)
        wanted = [getattr(p, "aggregates", None) for p in self.projections]
        self.aggregates = aggregates if aggregates is not None else (
            None if None in wanted else frozenset().union(*wanted))
        self.stream = stream
        self.batch_size = batch_size
        self.catch_up_batch = max(catch_up_batch, batch_size)
        self.flush_interval = flush_interval
        self.skipped: list[tuple[int, str]] = []
        self.on_skipped = on_skipped or (lambda seq, error: self.skipped.append((seq, error)))
        self._limit = batch_size
        self._collector = CollectorPause(freeze=long_lived)
        self._pending: list[tuple[Any, int]] = []
        self._seen = 0  # everything up to here was applied or passed over
        self._last_taken = 0

    @property
    def projection(self) -> Any:
        return self.projections[0]

    def position(self) -> int:
        return max(min(p.position() for p in self.projections), self._seen)

    def resume_from(self, seq: int) -> None:
        """Everything up to `seq` is accounted for (projections restored from snapshots at or past it)."""
        self._seen = max(self._seen, seq)

    async def catch_up(self, until: int | None = None) -> int:
        """Apply the log up to its end now (or up to `until`, for a past state); returns the position."""
        end = (await self.nc.jetstream().stream_info(self.stream)).state.last_seq
        end = end if until is None else min(end, until)
        self._limit = self.catch_up_batch
        self.applier.bulk(True)
        self._collector.begin()
        try:
            while (start := self.position() + 1) <= end:
                self._last_taken = max(self._last_taken, start - 1)
                await scan(self.nc, self.stream, self._take_frames, start_seq=start, end_seq=end)
                await self._flush()
                if self.position() < start:  # nothing more came: the log ends before `end`
                    break
        finally:
            self._limit = self.batch_size
            self.applier.bulk(False)
            self._collector.end()
        return self.position()

    async def rebuild(self, until: int | None = None) -> int:
        await self.applier.reset()
        self._seen = self._last_taken = 0
        return await self.catch_up(until)

    async def run(self, stop: asyncio.Event) -> None:
        await self.catch_up()
        queue: asyncio.Queue[StoredMsg] = asyncio.Queue()

        async def pump() -> None:
            async for msg in follow(self.nc, self.stream, start_seq=self.position() + 1):
                queue.put_nowait(msg)

        self._last_taken = max(self._last_taken, self.position())
        pumping = asyncio.create_task(pump())
        try:
            while not stop.is_set():
                try:
                    msg = await asyncio.wait_for(queue.get(), self.flush_interval)
                except TimeoutError:
                    await self._flush()
                    continue
                handoff = self._take(msg.subject, msg.seq, msg.data)
                while handoff is None and not queue.empty():
                    msg = queue.get_nowait()
                    handoff = self._take(msg.subject, msg.seq, msg.data)
                await (handoff or self._flush())
        finally:
            pumping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pumping
            await self._flush()

    async def _take_frames(self, frames: list[tuple[str, int, bytes]]) -> None:
        for subject, seq, data in frames:
            handoff = self._take(subject, seq, data)
            if handoff is not None:
                await handoff

    def _take(self, subject: str, seq: int, data: bytes):
        """Queue one message for the next batch; returns the hand-off to await when the batch is full."""
        if seq <= self._last_taken:
            return None
        self._last_taken = seq
        if self.aggregates is None or _aggregate(subject) in self.aggregates:
            try:
                self._pending.append((decode(data), seq))
            except DecodeError as exc:
                self.on_skipped(seq, str(exc))
        if not self._pending and not self.applier.busy:  # nothing waits before it: passed over for good
            self._seen = seq
        return self._hand_off() if len(self._pending) >= self._limit else None

    async def _hand_off(self) -> None:
        """Start applying the pending batch once the previous one is stored (one in flight, in order)."""
        batch, self._pending = self._pending, []
        last = self._last_taken
        try:
            await self.applier.start(batch, last)
        except BaseException:
            self._pending = self.applier.failed + batch + self._pending
            raise
        self._seen = max(self._seen, self.applier.done)

    async def _flush(self) -> None:
        """Apply everything taken so far and wait until it is stored."""
        batch, self._pending = self._pending, []
        try:
            await self.applier.finish(batch, self._last_taken)
        except BaseException:
            self._pending = self.applier.failed + batch + self._pending
            raise
        self._seen = max(self._seen, self.applier.done)


def _aggregate(subject: str) -> str | None:
    parts = subject.split(".", 4)
    return parts[2] if len(parts) == 5 else None
