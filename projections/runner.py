"""Drives a projection from the log: catch up from its stored position, then follow, in batches.

- `catch_up()` replays `EVT` (bus.read.replay: an ordered consumer, each
  sequence once, in order) from the projection's position + 1 to the end that
  existed when it started, applying batches of `batch_size` events.
- `run(stop)` catches up, then follows new events (bus.read.follow), applying
  what has arrived whenever `batch_size` is reached or the log goes quiet for
  `flush_interval` seconds.
- `rebuild()` resets the projection and catches up from sequence 1 (T7).

Only events of the aggregates the projection reads (`aggregates`, taken from
the subject `evt.<tenant>.<aggregate>.<id>.<event>`) are decoded. An event
that cannot be decoded is handed to `on_skipped(seq, error)` (recorded in
`skipped`) and passed over: retrying cannot fix its bytes. A transient store
error is retried with backoff, the same batch again; the projection's own
tracking makes a retried or replayed prefix a no-op. No durable consumer is
involved (strict order, no acks): the position lives with the projection.
Blocking projections (`blocking = True`, e.g. the ClickHouse sink) are applied
in a worker thread so the event loop keeps reading.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from nats.aio.client import Client

from bus.direct import StoredMsg
from bus.read import follow, replay
from schemas import DecodeError, decode

log = logging.getLogger("tessera.projections")


class ProjectionRunner:
    def __init__(self, nc: Client, projection: Any, *, aggregates: frozenset[str] | None = None,
                 stream: str = "EVT", batch_size: int = 1000, flush_interval: float = 0.1, retries: int = 5,
                 on_skipped: Callable[[int, str], None] | None = None) -> None:
        self.nc = nc
        self.projection = projection
        self.aggregates = aggregates if aggregates is not None else getattr(projection, "aggregates", None)
        self.stream = stream
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.retries = retries
        self.skipped: list[tuple[int, str]] = []
        self.on_skipped = on_skipped or (lambda seq, error: self.skipped.append((seq, error)))
        self._pending: list[tuple[Any, int]] = []
        self._seen = 0  # everything up to here was applied or passed over
        self._last_taken = 0

    def position(self) -> int:
        return max(self.projection.position(), self._seen)

    async def catch_up(self) -> int:
        start = self.position() + 1
        await replay(self.nc, self.stream, self._take, start_seq=start)
        await self._flush()
        return self.position()

    async def rebuild(self) -> int:
        reset = self.projection.reset
        await (asyncio.to_thread(reset) if getattr(self.projection, "blocking", False) else _call(reset))
        self._seen = self._last_taken = 0
        return await self.catch_up()

    async def run(self, stop: asyncio.Event) -> None:
        await self.catch_up()
        queue: asyncio.Queue[StoredMsg] = asyncio.Queue()

        async def pump() -> None:
            async for msg in follow(self.nc, self.stream, start_seq=self.position() + 1):
                queue.put_nowait(msg)

        pumping = asyncio.create_task(pump())
        try:
            while not stop.is_set():
                try:
                    msg = await asyncio.wait_for(queue.get(), self.flush_interval)
                except asyncio.TimeoutError:
                    await self._flush()
                    continue
                flush = self._take(msg)
                while flush is None and not queue.empty():
                    flush = self._take(queue.get_nowait())
                await (flush or self._flush())
        finally:
            pumping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pumping
            await self._flush()

    def _take(self, msg: StoredMsg):
        """Queue one message for the next batch; returns the flush to await when the batch is full."""
        if msg.seq <= max(self.position(), self._last_taken):
            return None
        self._last_taken = msg.seq
        if self.aggregates is None or _aggregate(msg.subject) in self.aggregates:
            try:
                self._pending.append((decode(msg.data), msg.seq))
            except DecodeError as exc:
                self.on_skipped(msg.seq, str(exc))
        if not self._pending:  # nothing waits before it: passed over for good
            self._seen = msg.seq
        return self._flush() if len(self._pending) >= self.batch_size else None

    async def _flush(self) -> None:
        batch, self._pending = self._pending, []
        if not batch:
            return
        for attempt in range(self.retries):
            try:
                if getattr(self.projection, "blocking", False):
                    await asyncio.to_thread(self.projection.apply_batch, batch)
                else:
                    self.projection.apply_batch(batch)
                break
            except Exception as exc:  # transient store trouble: the same batch again; tracking absorbs repeats
                if attempt == self.retries - 1:
                    self._pending = batch
                    raise
                log.warning("%s: batch up to seq %s failed (%s); retrying", self.projection.name, batch[-1][1], exc)
                await asyncio.sleep(min(0.1 * 2**attempt, 5.0))
        self._seen = max(self._seen, self._last_taken)


def _aggregate(subject: str) -> str | None:
    parts = subject.split(".", 4)
    return parts[2] if len(parts) == 5 else None


async def _call(fn) -> None:
    fn()
