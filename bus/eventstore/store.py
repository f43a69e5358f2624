"""The asynchronous core of the recorders: writes with optimistic concurrency, Direct Get reads.

Writes (`insert`):
- Validated in memory first: versions of one originator must strictly increase
  within a call (a repeated (originator, version) is an `IntegrityError`), every
  id must map to subject tokens (else ValueError), and the call must fit in one
  atomic batch (`max_batch`, else ValueError: splitting would break atomicity).
- All events of the call plus the optional tracking record are ONE atomic batch
  (a single message is a plain publish): all stored or none.
- Per originator, the batch expects the last sequence on
  `<prefix>.<tenant>.<aggregate>.<id>.*` to be the head this recorder last saw
  (unknown = new = 0); the tracking record expects the same on its subject.
  A stale expectation makes JetStream reject the whole batch; the heads are then
  read back: a stored version >= the first new version (or a tracking id >= the
  new one) is an `IntegrityError`, anything else refreshes the heads and the
  batch is retried (at most `conflict_retries` times).
- Appends only move an originator forward: inserting a version at or below its
  stored head is an `IntegrityError` even if that exact version was never used.
- Notification ids are the stream sequences of the events (the tracking record
  is last in the batch and has none). Tracking records share the stream, so the
  ids seen by `select_notifications` have gaps where tracking records sit.

Reads never scan the stream or create consumers: one aggregate costs one Direct
Get request per 1,000 of its events, its head one request.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import Iterator, NamedTuple, Sequence
from uuid import UUID

from eventsourcing.persistence import IntegrityError, Notification, StoredEvent, Tracking
from nats.aio.client import Client
from nats.errors import ConnectionClosedError, NoRespondersError
from nats.errors import TimeoutError as NatsTimeout

from bus import direct
from bus.errors import BusError, ConcurrencyConflict, PublishError, PublishOutcomeUnknown
from bus.eventstore import layout
from bus.eventstore.config import StoreConfig
from bus.eventstore.errors import StoreRejected, StoreTimeout, StoreUnavailable, WriteOutcomeUnknown
from bus.publish import Ack, DuplicateBatch, Expectation, OutMsg, Publisher


class Head(NamedTuple):
    value: int  # an originator's version, or an application's tracking id
    seq: int


class Heads:
    """Last known head per key (bounded, least recently used dropped). Never moves backwards."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._heads: OrderedDict[str, Head] = OrderedDict()

    def get(self, key: str) -> Head | None:
        head = self._heads.get(key)
        if head is not None:
            self._heads.move_to_end(key)
        return head

    def seen(self, key: str, value: int, seq: int) -> None:
        known = self._heads.get(key)
        if known is None or seq > known.seq:
            self._heads[key] = Head(value, seq)
            self._heads.move_to_end(key)
            if len(self._heads) > self._size:
                self._heads.popitem(last=False)


@dataclass
class _Group:
    who: layout.Originator
    first_version: int
    last_version: int
    last_index: int


@contextlib.contextmanager
def translated(what: str) -> Iterator[None]:
    """NATS and bus failures as the library's OperationalError family."""
    try:
        yield
    except (NatsTimeout, asyncio.TimeoutError) as exc:
        raise StoreTimeout(f"{what}: no answer from NATS in time ({type(exc).__name__})") from exc
    except (NoRespondersError, ConnectionClosedError) as exc:
        raise StoreUnavailable(f"{what}: {type(exc).__name__} (is the stream provisioned and NATS up?)") from exc
    except BusError as exc:
        raise StoreUnavailable(f"{what}: {exc}") from exc


class EventLog:
    def __init__(self, nc: Client, config: StoreConfig) -> None:
        self.nc = nc
        self.config = config
        self.publisher = Publisher(nc, timeout=config.request_timeout, attempts=config.publish_attempts,
                                   stream=config.stream)
        self.heads = Heads(config.head_cache_size)
        self.tracking_heads = Heads(config.head_cache_size)

    # --- writes -------------------------------------------------------------------------------------

    async def insert(self, events: Sequence[StoredEvent], tracking: Tracking | None = None) -> list[int]:
        msgs, groups = self._plan(events)
        if tracking is not None:
            msgs.append(layout.tracking_msg(self.config, tracking))
        if not msgs:
            return []
        if len(msgs) > self.config.max_batch:
            raise ValueError(
                f"{len(msgs)} messages exceed the atomic batch limit of {self.config.max_batch}; "
                "a decision must fit in one batch (splitting would break all-or-nothing)"
            )
        with translated(f"insert into {self.config.stream}"):
            for _ in range(self.config.conflict_retries + 1):
                expects = self._expectations(groups, tracking)
                try:
                    ack = await self._publish(msgs, expects)
                except ConcurrencyConflict:
                    await self._refresh(groups, tracking)
                    continue
                self._advance(groups, tracking, ack, len(msgs))
                return [ack.first_seq + i for i in range(len(events))]
        raise IntegrityError(
            f"gave up after {self.config.conflict_retries + 1} concurrency conflicts on "
            f"{sorted(g.who.key for g in groups.values())}: the originators keep moving"
        )

    def _plan(self, events: Sequence[StoredEvent]) -> tuple[list[OutMsg], dict[str, _Group]]:
        msgs: list[OutMsg] = []
        groups: dict[str, _Group] = {}
        for index, event in enumerate(events):
            msg = layout.event_msg(self.config, event)
            version = event.originator_version
            key = str(event.originator_id)
            group = groups.get(key)
            if group is None:
                groups[key] = _Group(layout.originator(self.config, event.originator_id), version, version, index)
            elif version <= group.last_version:
                raise IntegrityError(
                    f"stored events of {key} are not unique and increasing: version {version} "
                    f"after {group.last_version}"
                )
            else:
                group.last_version, group.last_index = version, index
            msgs.append(msg)
        return msgs, groups

    def _expectations(self, groups: dict[str, _Group], tracking: Tracking | None) -> list[Expectation]:
        expects = []
        for key, group in groups.items():
            head = self.heads.get(key)
            if head is not None and head.value >= group.first_version:
                raise IntegrityError(
                    f"{key} is already at version {head.value}; cannot record version {group.first_version}"
                )
            expects.append(Expectation(group.who.filter, head.seq if head else 0))
        if tracking is not None:
            head = self.tracking_heads.get(tracking.application_name)
            if head is not None and head.value >= tracking.notification_id:
                raise IntegrityError(
                    f"tracking of {tracking.application_name!r} is already at notification {head.value}; "
                    f"cannot record {tracking.notification_id}"
                )
            expects.append(
                Expectation(layout.tracking_subject(self.config, tracking.application_name), head.seq if head else 0)
            )
        return expects

    async def _publish(self, msgs: list[OutMsg], expects: list[Expectation]) -> Ack:
        try:
            if len(msgs) == 1:
                ack = await self.publisher.publish(msgs[0], expects[0] if expects else None)
            else:
                ack = await self.publisher.publish_batch(msgs, expects)
        except DuplicateBatch as exc:
            raise IntegrityError(f"already recorded: {exc}") from exc
        except PublishOutcomeUnknown as exc:
            raise WriteOutcomeUnknown(str(exc)) from exc
        except ConcurrencyConflict:
            raise
        except PublishError as exc:
            if exc.code == 503:
                raise StoreUnavailable(str(exc)) from exc
            raise StoreRejected(str(exc)) from exc
        if ack.duplicate:
            raise IntegrityError(f"already recorded: message {msgs[0].msg_id} is in {ack.stream} at {ack.seq}")
        if ack.count != len(msgs):
            raise StoreRejected(f"JetStream acknowledged {ack.count} messages of a batch of {len(msgs)}")
        return ack

    async def _refresh(self, groups: dict[str, _Group], tracking: Tracking | None) -> None:
        """Read the real heads after a conflict; raise IntegrityError where they are at or past ours."""
        keys = list(groups)
        subjects = [groups[k].who.filter for k in keys]
        if tracking is not None:
            subjects.append(layout.tracking_subject(self.config, tracking.application_name))
        found = await asyncio.gather(*(self._last(s) for s in subjects))
        for key, msg in zip(keys, found):
            if msg is not None:
                self.heads.seen(key, layout.version_of(msg), msg.seq)
        if tracking is not None and found[-1] is not None:
            self.tracking_heads.seen(tracking.application_name, layout.tracking_id_of(found[-1]), found[-1].seq)
        self._expectations(groups, tracking)  # raises IntegrityError on a real conflict

    def _advance(self, groups: dict[str, _Group], tracking: Tracking | None, ack: Ack, count: int) -> None:
        first = ack.seq - count + 1
        for key, group in groups.items():
            self.heads.seen(key, group.last_version, first + group.last_index)
        if tracking is not None:
            self.tracking_heads.seen(tracking.application_name, tracking.notification_id, ack.seq)

    # --- reads --------------------------------------------------------------------------------------

    async def _last(self, subject: str) -> direct.StoredMsg | None:
        return await direct.last_for(self.nc, self.config.stream, subject, timeout=self.config.request_timeout)

    async def select_events(
        self, oid: UUID | str, *, gt: int | None, lte: int | None, desc: bool, limit: int | None
    ) -> list[StoredEvent]:
        who = layout.originator(self.config, oid)
        with translated(f"read {who.filter} from {self.config.stream}"):
            if desc and limit == 1 and gt is None and lte is None:
                last = await self._last(who.filter)
                msgs = [last] if last is not None else []
            else:
                msgs = await direct.read_subject(self.nc, self.config.stream, who.filter,
                                                 timeout=self.config.request_timeout)
        if msgs:
            self.heads.seen(who.key, layout.version_of(msgs[-1]), msgs[-1].seq)
        picked = [
            m for m in msgs
            if (gt is None or layout.version_of(m) > gt) and (lte is None or layout.version_of(m) <= lte)
        ]
        if desc:
            picked.reverse()
        if limit is not None:
            picked = picked[:limit]
        return [layout.stored_event(m, oid) for m in picked]

    async def select_notifications(
        self, start: int | None, limit: int, stop: int | None, topics: Sequence[str], inclusive_of_start: bool
    ) -> list[Notification]:
        seq = 1 if start is None else (start if inclusive_of_start else start + 1)
        seq = max(seq, 1)
        wanted = set(topics)
        out: list[Notification] = []
        with translated(f"read notifications from {self.config.stream}"):
            while len(out) < limit and (stop is None or seq <= stop):
                page_size = min(direct.BATCH, limit - len(out)) if not wanted else direct.BATCH
                if stop is not None:
                    page_size = min(page_size, stop - seq + 1)
                page = await direct.read_subject(self.nc, self.config.stream, self.config.events_filter,
                                                 start_seq=seq, limit=page_size, timeout=self.config.request_timeout)
                for msg in page:
                    if stop is not None and msg.seq > stop:
                        return out
                    if wanted and msg.headers.get(layout.H_TOPIC) not in wanted:
                        continue
                    out.append(layout.notification(msg))
                    if len(out) == limit:
                        return out
                if len(page) < page_size:
                    break
                seq = page[-1].seq + 1
        return out

    async def max_notification_id(self) -> int | None:
        with translated(f"read the last event of {self.config.stream}"):
            last = await self._last(self.config.events_filter)
        return last.seq if last is not None else None

    async def max_tracking_id(self, application_name: str) -> int | None:
        subject = layout.tracking_subject(self.config, application_name)
        with translated(f"read {subject} from {self.config.stream}"):
            last = await self._last(subject)
        if last is None:
            return None
        tracking_id = layout.tracking_id_of(last)
        self.tracking_heads.seen(application_name, tracking_id, last.seq)
        return tracking_id
