"""Reactors (process managers): events in, commands out.

A reactor keeps an in-memory view built from events (`apply`) and answers each
event with commands (`react`), e.g. "a job was submitted -> admit or reject
it", "a node was lost -> report it to the jobs placed there". Running one:

- On start it follows EVT from sequence 1 (or its filter) and rebuilds its
  view; it reacts only to events after its tracking position, so commands it
  already sent are not sent again on restart.
- A reaction's command id is derived from the triggering event's id and the
  reaction's index: re-sending after a crash (between sending and storing the
  position) is dropped by JetStream within the duplicate window and by the
  target aggregate (causation check) after it — effectively once.
- The position is stored with the library's tracking recorder (a `trk.<name>`
  message on EVT) every `track_every` events and when the reactor catches up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Protocol

from eventsourcing.persistence import IntegrityError, Tracking, TrackingRecorder

from bus import direct
from bus.commands import send
from bus.publish import Publisher
from bus.read import follow
from schemas import Command, Envelope, decode, derived_id

log = logging.getLogger("tessera.reactor")


class Reactor(Protocol):
    name: str

    def apply(self, event: Envelope) -> None: ...

    def react(self, event: Envelope) -> Sequence[tuple[str, Command]]:
        """(tenant, command) pairs; the tenant is the target aggregate's."""
        ...


def reaction(reactor: str, event: Envelope, index: int, tenant: str, command: Command) -> Envelope:
    return Envelope.for_command(
        command, tenant=tenant, actor=f"reactor:{reactor}", source=f"/tessera/reactor/{reactor}",
        time=event.time, id=derived_id("reaction", reactor, event.id, index),
        correlationid=event.correlationid, causationid=event.id,
    )


class ReactorRunner:
    def __init__(self, nc, reactor: Reactor, tracking: TrackingRecorder, *, subject: str = "evt.>",
                 track_every: int = 500) -> None:
        self.nc = nc
        self.reactor = reactor
        self.tracking = tracking
        self.subject = subject
        self.track_every = track_every
        self.publisher = Publisher(nc, stream="CMD")
        self.position = 0
        self.sent = 0
        self._stored = 0

    async def run(self, *, once: bool = False) -> None:
        """Follow EVT forever; with `once`, stop when caught up (catch-up runs, tests)."""
        self.position = await asyncio.to_thread(self.tracking.max_tracking_id, self.reactor.name) or 0
        self._stored = self.position
        if once and await direct.last_for(self.nc, "EVT", self.subject) is None:
            return  # nothing to catch up on
        async for stored in follow(self.nc, "EVT", subject=self.subject):
            event = decode(stored.data)
            self.reactor.apply(event)
            if stored.seq > self.position:
                for index, (tenant, command) in enumerate(self.reactor.react(event)):
                    await send(self.publisher, reaction(self.reactor.name, event, index, tenant, command))
                    self.sent += 1
                self.position = stored.seq
            if self.position - self._stored >= self.track_every or stored.pending == 0:
                await self._store_position()
            if once and stored.pending == 0:
                await self._store_position()
                return

    async def _store_position(self) -> None:
        if self.position <= self._stored:
            return
        try:
            await asyncio.to_thread(self.tracking.insert_tracking, Tracking(self.reactor.name, self.position))
        except IntegrityError:
            log.warning("%s: position %s already stored by another runner", self.reactor.name, self.position)
        self._stored = self.position
