"""Running the control plane's reactors: `ReactorRunner` plus batching and a graceful stop.

Everything `bus.reactor.ReactorRunner` guarantees holds (view rebuilt from
sequence 1, reactions only after the tracking position, command ids derived
from the triggering event and the reaction's index, position stored every
`track_every` events and when caught up). Added here:

- Batching: a reactor may define `flush(event) -> [(tenant, Command)]`. It is
  called after `react(event)` when the runner is at the head of the log
  (`pending == 0`) or every `flush_every` events otherwise, and its commands
  are sent as further reactions to that event (indexes after `react`'s). The
  placer runs its pass there: once per burst of events, not once per event.
  Flushes never run during the catch-up before the stored position, so a
  restarted reactor does not act on a view of the past.
- A reactor may define `async effect(event)`, run before `react` for events
  after the position (the node mirror's append), and `resume_only = True` to
  follow from the position on instead of rebuilding a view from sequence 1.
- A message that does not decode (a type this process does not know) is
  skipped with a warning: it cannot concern a reactor that does not know it.
- Position: stored every `track_every` events, and at the head of the log at
  most once per `track_interval` seconds (a reactor that keeps up would
  otherwise write a tracking record per event); `store_position()` (the
  plane's timer) and `stop()` store the rest. Reactions re-sent after a crash
  carry the same ids: JetStream and the target aggregates drop them.
- `stop()` waits for the event being handled (its commands sent), stores the
  position, then ends the follow.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from bus import direct
from bus.commands import send
from bus.reactor import ReactorRunner, reaction
from bus.read import follow
from schemas import DecodeError, decode

log = logging.getLogger("tessera.control")


class ControlRunner(ReactorRunner):
    def __init__(self, nc, reactor, tracking, *, flush_every: int = 5000, track_interval: float = 1.0,
                 **options) -> None:
        super().__init__(nc, reactor, tracking, **options)
        self.flush_every = flush_every
        self.track_interval = track_interval
        self._stored_at = 0.0
        self.caught_up = asyncio.Event()
        self._busy = asyncio.Lock()
        self._since_flush = 0
        self._task: asyncio.Task | None = None

    async def run(self, *, once: bool = False) -> None:
        self._task = asyncio.current_task()
        self.position = await asyncio.to_thread(self.tracking.max_tracking_id, self.reactor.name) or 0
        self._stored = self.position
        flush = getattr(self.reactor, "flush", None)
        effect = getattr(self.reactor, "effect", None)
        start = self.position + 1 if getattr(self.reactor, "resume_only", False) else None
        last = await direct.last_for(self.nc, "EVT", self.subject)
        if last is None or (start is not None and last.seq < start):
            self.caught_up.set()  # nothing to catch up on
            if once:
                return
        async for stored in follow(self.nc, "EVT", subject=self.subject, start_seq=start):
            async with self._busy:
                try:
                    event = decode(stored.data)
                except DecodeError as exc:
                    log.warning("%s: skipping seq %s: %s", self.reactor.name, stored.seq, exc)
                    event = None
                if event is not None:
                    self.reactor.apply(event)
                if event is not None and stored.seq > self.position:
                    if effect is not None:
                        await effect(event)
                    commands = list(self.reactor.react(event))
                    self._since_flush += 1
                    if flush is not None and (stored.pending == 0 or self._since_flush >= self.flush_every):
                        commands += flush(event)
                        self._since_flush = 0
                    for index, (tenant, command) in enumerate(commands):
                        await send(self.publisher, reaction(self.reactor.name, event, index, tenant, command))
                        self.sent += 1
                self.position = max(self.position, stored.seq)
                if self.position - self._stored >= self.track_every or (
                        stored.pending == 0 and self._clock() - self._stored_at >= self.track_interval):
                    await self._store_position()
                if stored.pending == 0:
                    self.caught_up.set()
                    if once:
                        await self._store_position()
                        return

    async def store_position(self) -> None:
        """Store the position now if it moved (the plane calls this on a timer)."""
        async with self._busy:
            await self._store_position()

    async def _store_position(self) -> None:
        self._stored_at = self._clock()
        await super()._store_position()

    @staticmethod
    def _clock() -> float:
        return asyncio.get_running_loop().time()

    async def stop(self) -> None:
        """Finish the event in hand, store the position, stop following."""
        async with self._busy:
            if self._task is not None and not self._task.done():
                self._task.cancel()
            with contextlib.suppress(Exception):
                await self._store_position()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
