"""Aggregates loaded and saved through the eventsourcing library's `EventStore`.

The store is the library's `EventStore` with our `EnvelopeMapper` on a
JetStream recorder (`bus.eventstore`): an aggregate is the subjects
`evt.<tenant>.<aggregate>.<id>.*`, loading it reads only those (Direct Get),
and one `append` is one atomic write whose first version must follow the
stored head — otherwise `AggregateConflict` (someone else decided first:
reload and decide again). The library is synchronous; its calls run in a
worker thread so the event loop never blocks.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from eventsourcing.persistence import AggregateRecorder, EventStore, IntegrityError

from bus.eventstore.mapper import EnvelopeMapper
from schemas import Envelope


class AggregateConflict(Exception):
    """The aggregate moved on since it was loaded."""


@dataclass(frozen=True)
class Loaded:
    events: list[Envelope]

    @property
    def version(self) -> int:
        return self.events[-1].version if self.events else 0


class AggregateStore:
    def __init__(self, recorder: AggregateRecorder) -> None:
        self._store: EventStore[str] = EventStore(mapper=EnvelopeMapper(), recorder=recorder)

    async def load(self, tenant: str, aggregate: str, aggregate_id: str) -> Loaded:
        originator = f"{tenant}.{aggregate}.{aggregate_id}"
        return Loaded(await asyncio.to_thread(lambda: list(self._store.get(originator))))

    async def append(self, envelopes: list[Envelope]) -> None:
        try:
            await asyncio.to_thread(self._store.put, envelopes)
        except IntegrityError as exc:
            raise AggregateConflict(str(exc)) from None
