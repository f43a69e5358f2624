"""Group commit: concurrent decisions appended together, as one atomic batch.

nats-server commits atomic batches on a stream one at a time, each costing
3-7 ms on file storage (README, "Atomic batches"): ~150-350 batches/s however
many writers wait. A decision of several events must be one atomic write, so
at one batch per decision that is the ceiling of every multi-event command
(AdmitJob emits JobAdmitted + JobQueued). Single-event decisions join too: a
batch costs the client far less per message than a request each (no future
and timer per publish). `GroupCommit.insert(events)` queues
a decision's stored events; while one batch is being committed the next ones
gather, and each commit carries every decision that waited, each with its own
aggregate's expectation (`EventLog.insert` takes several originators).

Guarantees, per decision, as with a batch of its own: its events are stored
all or none (the group is one atomic batch: all its decisions or none), after
the head it expected (a stale expectation fails the batch). When a group fails
with `IntegrityError` (one decision's aggregate moved on, or a duplicate),
every decision in it is retried alone, so each gets its own outcome: the
others land, the stale one gets its IntegrityError (the retries run concurrently:
each carries its own expectation, so of two on one aggregate only one can land).
Any other failure (timeout,
unknown outcome) is raised to every decision of the group, as it would have
been to each alone. A group holds at most `max_msgs` messages.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from eventsourcing.persistence import IntegrityError, StoredEvent

from bus.eventstore.store import EventLog


class GroupCommit:
    def __init__(self, log: EventLog, *, max_msgs: int = 1000) -> None:
        self.log = log
        self.max_msgs = max_msgs
        self.commits = 0
        self._waiting: list[tuple[Sequence[StoredEvent], asyncio.Future]] = []
        self._running: asyncio.Task | None = None

    async def insert(self, events: Sequence[StoredEvent]) -> None:
        done = asyncio.get_running_loop().create_future()
        self._waiting.append((events, done))
        if self._running is None or self._running.done():
            self._running = asyncio.create_task(self._commit_all())
        await done

    async def _commit_all(self) -> None:
        await asyncio.sleep(0)  # let the decisions started with this one queue up
        while self._waiting:
            group, size = [], 0
            while self._waiting and (not group or size + len(self._waiting[0][0]) <= self.max_msgs):
                item = self._waiting.pop(0)
                group.append(item)
                size += len(item[0])
            await self._commit(group)

    async def _commit(self, group: list[tuple[Sequence[StoredEvent], asyncio.Future]]) -> None:
        self.commits += 1
        try:
            await self.log.insert([e for events, _ in group for e in events])
        except IntegrityError as exc:
            if len(group) == 1:
                _settle(group[0][1], exc)
                return
            await asyncio.gather(*(self._alone(events, done) for events, done in group))  # whose was it?
            return
        except BaseException as exc:  # every decision of the group shares the outcome
            for _, done in group:
                _settle(done, exc)
            if isinstance(exc, asyncio.CancelledError):
                raise
            return
        for _, done in group:
            _settle(done, None)


    async def _alone(self, events: Sequence[StoredEvent], done: asyncio.Future) -> None:
        try:
            await self.log.insert(events)
        except BaseException as alone:  # noqa: BLE001 - handed to its own caller
            _settle(done, alone)
        else:
            _settle(done, None)


def _settle(done: asyncio.Future, exc: BaseException | None) -> None:
    if done.done():
        return
    if exc is None:
        done.set_result(None)
    else:
        done.set_exception(exc)
