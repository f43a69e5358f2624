"""Aggregates loaded and saved through the eventsourcing library's `EventStore`, with a cache of recent ones.

The store is the library's `EventStore` with our `EnvelopeMapper` on a
JetStream recorder (`bus.eventstore`): an aggregate is the subjects
`evt.<tenant>.<aggregate>.<id>.*`, loading it reads only those (Direct Get),
and one `append` is one atomic write whose first version must follow the
stored head — otherwise `AggregateConflict` (someone else decided first:
reload and decide again). The library is synchronous; its calls run in a
worker thread so the event loop never blocks. Given `nc` (a connection on the
caller's loop), the same `bus.eventstore.store.EventLog` runs on that loop
instead: same writes (atomic batch, expectations, IntegrityError), no thread
hop per call, and appends made concurrently share one atomic batch
(`bus.groupcommit`: still all-or-nothing per decision, each with its own
expectation; a decision alone is a plain publish).

`cached(...)` answers from the events this store last loaded or appended for an
aggregate (bounded, least recently used dropped), or None. A cached aggregate
may be stale when another process appended since: a decision made on it fails
its expectation (`AggregateConflict`) and the caller loads for real. An append
that fails in any way drops the entry (its outcome may be unknown).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass

from eventsourcing.persistence import EventStore, IntegrityError

from bus.eventstore.mapper import EnvelopeMapper
from bus.eventstore.store import EventLog
from bus.groupcommit import GroupCommit
from schemas import Envelope

CACHE_SIZE = 10_000


class AggregateConflict(Exception):
    """The aggregate moved on since it was loaded."""


@dataclass(frozen=True)
class Loaded:
    events: list[Envelope]

    @property
    def version(self) -> int:
        return self.events[-1].version if self.events else 0


class AggregateStore:
    def __init__(self, recorder, *, nc=None, cache_size: int = CACHE_SIZE) -> None:
        self._mapper = EnvelopeMapper()
        self._store: EventStore[str] = EventStore(mapper=self._mapper, recorder=recorder)
        self._log = EventLog(nc, recorder.config) if nc is not None else None
        self._group = GroupCommit(self._log) if self._log is not None else None
        self._cache: OrderedDict[str, tuple[Envelope, ...]] = OrderedDict()
        self._cache_size = cache_size

    def cached(self, tenant: str, aggregate: str, aggregate_id: str) -> Loaded | None:
        events = self._cache.get(f"{tenant}.{aggregate}.{aggregate_id}")
        return None if events is None else Loaded(list(events))

    async def load(self, tenant: str, aggregate: str, aggregate_id: str) -> Loaded:
        originator = f"{tenant}.{aggregate}.{aggregate_id}"
        if self._log is None:
            events = await asyncio.to_thread(lambda: list(self._store.get(originator)))
        else:
            stored = await self._log.select_events(originator, gt=None, lte=None, desc=False, limit=None)
            events = [self._mapper.to_domain_event(s) for s in stored]
        self._remember(originator, tuple(events))
        return Loaded(events)

    async def append(self, envelopes: list[Envelope]) -> None:
        originators = {f"{e.tenant}.{e.aggregate}.{e.aggregateid}" for e in envelopes}
        try:
            if self._log is None:
                await asyncio.to_thread(self._store.put, envelopes)
            else:
                stored = [self._mapper.to_stored_event(e) for e in envelopes]
                await self._group.insert(stored)  # alone when nothing else is waiting: a plain publish
        except IntegrityError as exc:
            self._forget(originators)
            raise AggregateConflict(str(exc)) from None
        except BaseException:
            self._forget(originators)
            raise
        for originator in originators:
            new = tuple(e for e in envelopes if f"{e.tenant}.{e.aggregate}.{e.aggregateid}" == originator)
            known = self._cache.get(originator)
            if known is not None and (known[-1].version if known else 0) == new[0].version - 1:
                self._remember(originator, known + new)
            elif new[0].version == 1:
                self._remember(originator, new)
            else:
                self._forget((originator,))

    def _remember(self, originator: str, events: tuple[Envelope, ...]) -> None:
        self._cache[originator] = events
        self._cache.move_to_end(originator)
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    def _forget(self, originators) -> None:
        for originator in originators:
            self._cache.pop(originator, None)
