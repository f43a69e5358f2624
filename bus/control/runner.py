"""Running the control plane's reactors: `ReactorRunner` plus batching and a graceful stop.

Everything `bus.reactor.ReactorRunner` guarantees holds (view rebuilt from
sequence 1, reactions only after the tracking position, command ids derived
from the triggering event and the reaction's index, position stored every
`track_every` events and when caught up). Added here:

- Batched sends: the commands of a run of events are collected and sent
  together (`Publisher.publish_many`: pipelined, each still needing its PubAck)
  when the runner reaches the head of the log (`pending == 0`), when `send_every`
  are waiting, or before an `effect`. The position only moves past an event once
  its commands were acknowledged, so a crash re-sends them (same ids: dropped).
- Passes: a reactor may define `flush(event) -> [(tenant, Command)]`, called
  after `react(event)`, its commands sent as further reactions to that event
  (indexes after `react`'s). It runs at the head of the log, at most once per
  `flush_gap` seconds (a flush that comes too soon is deferred to the end of the
  gap, to the last event then; the position stays before the first event it
  covers until it ran), and during a burst at least every `flush_wait` seconds
  or `flush_every` events. The placer runs its pass there: once per burst of
  events, not once per event. Flushes never run during the catch-up before the
  stored position, so a restarted reactor does not act on a view of the past.
- A reactor may define `async effect(event)`, run before `react` for events
  after the position (the node mirror's append), and `resume_only = True` to
  follow from the position on instead of rebuilding a view from sequence 1.
- `react` may also return ready `OutMsg`s (own subject, own deterministic
  `Nats-Msg-Id`, any stream: dispatch's orders on EXEC); they are sent with the
  commands, in order, under the same rule (acknowledged before the position
  moves past their event).
- Reading is shared: given the plane's `EventHub`, runners take EVT from its one
  subscription (hub.py); without one, each follows EVT itself and decoding is
  still shared (`shared_decode`: by sequence, checked against the bytes).
- A message that does not decode (a type this process does not know) is
  skipped with a warning: it cannot concern a reactor that does not know it.
- Position: stored every `track_every` events, and at the head of the log at
  most once per `track_interval` seconds (a reactor that keeps up would
  otherwise write a tracking record per event); `store_position()` (the
  plane's timer) and `stop()` store the rest. Reactions re-sent after a crash
  carry the same ids: JetStream and the target aggregates drop them.
- `stop()` waits for the event being handled (its commands sent, a deferred
  flush run), stores the position, then ends the follow.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from bus import direct, subjects
from bus.control.hub import SUBJECT, EventHub
from bus.publish import OutMsg
from bus.reactor import ReactorRunner, reaction
from bus.read import follow
from schemas import DecodeError, Envelope, decode, encode

log = logging.getLogger("tessera.control")
_DECODED: dict[int, tuple[bytes, Envelope]] = {}
_DECODED_MAX = 50_000


def shared_decode(seq: int, data: bytes) -> Envelope:
    """`decode(data)`, once per process for the same message (runners on one log ask for the same ones)."""
    hit = _DECODED.get(seq)
    if hit is not None and hit[0] == data:
        return hit[1]
    env = decode(data)
    if len(_DECODED) >= _DECODED_MAX:
        for old in list(_DECODED)[: _DECODED_MAX // 5]:
            del _DECODED[old]
    _DECODED[seq] = (data, env)
    return env


class ControlRunner(ReactorRunner):
    def __init__(self, nc, reactor, tracking, *, hub: EventHub | None = None, flush_every: int = 5000,
                 flush_gap: float = 0.005, flush_wait: float = 0.05, send_every: int = 512,
                 track_interval: float = 1.0, **options) -> None:
        super().__init__(nc, reactor, tracking, **options)
        self.hub = hub if self.subject == SUBJECT else None
        self.flush_every = flush_every
        self.flush_gap = flush_gap
        self.flush_wait = flush_wait
        self.send_every = send_every
        self.track_interval = track_interval
        self._stored_at = 0.0
        self.caught_up = asyncio.Event()
        self._busy = asyncio.Lock()
        self._since_flush = 0
        self._flushed_at = self._burst_at = 0.0
        self._task: asyncio.Task | None = None
        self._outbox: list[OutMsg] = []
        self._handled = 0  # reacted to (commands maybe not sent yet)
        self._last: tuple[Envelope, int] | None = None  # last event reacted to, next reaction index
        self._deferred: tuple[int, asyncio.TimerHandle] | None = None  # (first seq it covers, timer)
        self._late: asyncio.Task | None = None

    async def run(self, *, once: bool = False) -> None:
        self._task = asyncio.current_task()
        self.position = await asyncio.to_thread(self.tracking.max_tracking_id, self.reactor.name) or 0
        self._stored = self._handled = self.position
        flush = getattr(self.reactor, "flush", None)
        effect = getattr(self.reactor, "effect", None)
        start = self.position + 1 if getattr(self.reactor, "resume_only", False) else None
        last = await direct.last_for(self.nc, "EVT", self.subject)
        if last is None or (start is not None and last.seq < start):
            self.caught_up.set()  # nothing to catch up on
            if once:
                return
        async for stored, event in self._events(start):
            async with self._busy:
                if isinstance(event, DecodeError):
                    log.warning("%s: skipping seq %s: %s", self.reactor.name, stored.seq, event)
                    event = None
                if event is not None:
                    self.reactor.apply(event)
                if event is not None and stored.seq > self._handled:
                    if effect is not None:
                        await self._send()  # what earlier events asked for goes first
                        await effect(event)
                    self._queue(event, self.reactor.react(event))
                    self._since_flush += 1
                    if flush is not None:
                        self._maybe_flush(flush, event, stored.pending == 0, once)
                self._handled = max(self._handled, stored.seq)
                if stored.pending == 0 or len(self._outbox) >= self.send_every:
                    await self._send()
                if self.position - self._stored >= self.track_every or (
                        stored.pending == 0 and self._clock() - self._stored_at >= self.track_interval):
                    await self._store_position()
                if stored.pending == 0:
                    self.caught_up.set()
                    if once:
                        await self._store_position()
                        return

    async def _events(self, start: int | None):
        if self.hub is not None:
            async for item in self.hub.events(start):
                yield item
            return
        async for stored in follow(self.nc, "EVT", subject=self.subject, start_seq=start):
            try:
                yield stored, shared_decode(stored.seq, stored.data)
            except DecodeError as exc:
                yield stored, exc

    def _queue(self, event: Envelope, commands) -> None:
        index = self._last[1] if self._last is not None and self._last[0] is event else 0
        for item in commands:
            if isinstance(item, OutMsg):  # a message the reactor built itself (own subject and id)
                self._outbox.append(item)
                continue
            tenant, command = item
            env = reaction(self.reactor.name, event, index, tenant, command)
            self._outbox.append(OutMsg(subjects.subject_for(env), encode(env), env.id))
            index += 1
        self._last = (event, index)

    def _maybe_flush(self, flush, event: Envelope, at_head: bool, once: bool) -> None:
        now = self._clock()
        if self._since_flush == 1:
            self._burst_at = now  # the first event the next flush covers
        since = now - self._flushed_at
        if (at_head and (once or since >= self.flush_gap)) or now - self._burst_at >= self.flush_wait or \
                self._since_flush >= self.flush_every:
            self._flush_now(flush, event)
        elif at_head and self._deferred is None:
            timer = asyncio.get_running_loop().call_later(self.flush_gap - since, self._late_flush, flush)
            self._deferred = (self._handled + 1, timer)

    def _flush_now(self, flush, event: Envelope) -> None:
        if self._deferred is not None:
            self._deferred[1].cancel()
            self._deferred = None
        self._queue(event, flush(event))
        self._since_flush = 0
        self._flushed_at = self._clock()

    def _late_flush(self, flush) -> None:
        async def later() -> None:
            async with self._busy:
                if self._deferred is None or self._last is None:
                    return
                self._flush_now(flush, self._last[0])
                await self._send()
        if self._task is not None and not self._task.done():
            self._late = asyncio.create_task(later())
            self._late.add_done_callback(self._late_done)

    def _late_done(self, task: asyncio.Task) -> None:
        if not task.cancelled() and task.exception() is not None:  # its commands stay queued for the next send
            log.warning("%s: a deferred flush could not send: %s", self.reactor.name, task.exception())

    async def _send(self) -> None:
        """Send what was queued (all acknowledged, or raise), then move the position over what it covers."""
        if self._outbox:
            batch, self._outbox = self._outbox, []
            try:
                await self.publisher.publish_many(batch)
            except BaseException:
                self._outbox = batch + self._outbox  # sent again (same ids) by the next send or a restart
                raise
            self.sent += len(batch)
        covered = self._handled if self._deferred is None else min(self._handled, self._deferred[0] - 1)
        self.position = max(self.position, covered)

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
        """Finish the event in hand (a deferred flush too), send its commands, store the position, stop following."""
        async with self._busy:
            if self._task is not None and not self._task.done():
                self._task.cancel()
            with contextlib.suppress(Exception):
                flush = getattr(self.reactor, "flush", None)
                if self._deferred is not None and flush is not None and self._last is not None:
                    self._flush_now(flush, self._last[0])
                await self._send()
                await self._store_position()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
