"""One read of EVT for all the control plane's reactors: each event is received and decoded once.

Every reactor used to follow EVT with its own ordered consumer: the server
sent each event once per reactor and the process parsed and decoded it once
per reactor (8 reactors: 8 copies of every event). `EventHub.events(start)`
gives each runner the same stream from one subscription instead:

- The hub follows `evt.>` from sequence 1 (one ordered consumer, started by the
  first subscriber) and hands every message, with its decoded envelope (or the
  DecodeError), to every subscriber's queue, in stream order.
- A subscriber that arrives later (a reactor restarted after a crash) first
  reads what the hub already passed with a private `follow` from its own start,
  up to the sequence the hub was at when it subscribed, then takes the hub's
  queue from the next sequence on: each sequence once, in order, no gap.
- A subscriber that starts after sequence 1 (`resume_only` reactors) gets only
  sequences from its start on.
- `pending` of a message is the hub's (what the stream held beyond it when the
  hub received it) plus what waits in the subscriber's queue, so a runner that
  lags does not take itself to be at the head of the log.
- If the hub's follow fails, every subscriber gets the error (its runner
  crashes and is restarted by the supervisor) and the next subscriber starts a
  new follow. `close()` ends the follow.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator

from bus.direct import StoredMsg
from bus.read import follow
from schemas import DecodeError, Envelope, decode

log = logging.getLogger("tessera.control")
SUBJECT = "evt.>"
Item = tuple[StoredMsg, Envelope | DecodeError]


class EventHub:
    def __init__(self, nc) -> None:
        self.nc = nc
        self.last = 0  # the last sequence handed to the subscribers
        self._queues: set[_Inbox] = set()
        self._pump: asyncio.Task | None = None

    async def events(self, start: int | None = None) -> AsyncIterator[Item]:
        start = start or 1
        queue = _Inbox()
        self._queues.add(queue)
        if self._pump is None or self._pump.done():
            self.last = 0
            self._pump = asyncio.create_task(self._run(), name="control-event-hub")
        boundary, seen = self.last, start - 1
        try:
            if boundary >= start:  # the hub is past our start: read that part ourselves
                async for stored in follow(self.nc, "EVT", subject=SUBJECT, start_seq=start):
                    seen = stored.seq
                    yield stored, _decoded(stored)
                    if stored.seq >= boundary:
                        break
            while True:
                item = await queue.get()
                if isinstance(item, BaseException):
                    raise item
                stored, env = item
                if stored.seq <= seen:
                    continue
                seen = stored.seq
                waiting = len(queue.items)
                if waiting:  # (the constructor: dataclasses.replace cost more than the rest of the hub)
                    stored = StoredMsg(stored.subject, stored.seq, stored.data, stored.headers,
                                       (stored.pending or 0) + waiting)
                yield stored, env
        finally:
            self._queues.discard(queue)

    async def _run(self) -> None:
        try:
            async for stored in follow(self.nc, "EVT", subject=SUBJECT):
                item = (stored, _decoded(stored))
                self.last = stored.seq
                for queue in self._queues:
                    queue.put(item)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # every subscriber crashes with it; the next one starts a new follow
            log.warning("control event hub: following EVT failed: %s", exc)
            for queue in self._queues:
                queue.put(exc)

    async def close(self) -> None:
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(BaseException):
                await self._pump


class _Inbox:
    """A subscriber's queue: a deque and a wake-up (asyncio.Queue's put/get were a tenth of a busy plane's CPU)."""

    __slots__ = ("_waiter", "items")

    def __init__(self) -> None:
        self.items: deque = deque()
        self._waiter: asyncio.Future | None = None

    def put(self, item) -> None:
        self.items.append(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def get(self):
        while not self.items:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self.items.popleft()


def _decoded(stored: StoredMsg) -> Envelope | DecodeError:
    try:
        return decode(stored.data)
    except DecodeError as exc:
        return exc
