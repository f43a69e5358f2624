"""eventsourcing recorders on a JetStream stream (EVT by default).

`JetStreamAggregateRecorder`, `JetStreamApplicationRecorder`,
`JetStreamTrackingRecorder` and `JetStreamProcessRecorder` implement the
library's recorder interfaces, so its applications, aggregates, process
applications and projections run on the log. Guarantees (see `store.py` and
`layout.py` for the details):
- one `insert_events` call, including a process application's tracking
  record, is one atomic JetStream batch: all of it is stored or none;
- `IntegrityError` when an (originator, version) is already recorded, when a
  version is not after the originator's stored head, or when a tracking id is
  not after the application's stored one;
- timeouts and lost connections are `OperationalError` subclasses
  (`bus.eventstore.errors`); a write whose PubAck never came and could not be
  read back is `WriteOutcomeUnknown`, never reported as failed;
- notification ids are stream sequences of event messages: increasing, with
  gaps where tracking records sit between events.

The library is synchronous and calls recorders from several threads; each
recorder runs its NATS I/O on a `Runner` (one asyncio loop on one thread, one
connection). A recorder built with `connect()` owns its runner and closes it;
recorders made by `bus.eventstore.Factory` share the factory's runner.
"""

from __future__ import annotations

from typing import Any, Coroutine, Sequence, TypeVar
from uuid import UUID

from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    Notification,
    ProcessRecorder,
    StoredEvent,
    Subscription,
    Tracking,
    TrackingRecorder,
)
from typing_extensions import Self

from bus.eventstore.config import StoreConfig
from bus.eventstore.runner import Runner
from bus.eventstore.store import EventLog
from bus.eventstore.subscription import JetStreamSubscription
from bus.settings import Settings

T = TypeVar("T")


class JetStreamRecorder:
    def __init__(self, runner: Runner, config: StoreConfig | None = None, *, owns_runner: bool = False) -> None:
        self.runner = runner
        self.config = config or StoreConfig()
        self.log = EventLog(runner.nc, self.config)
        self._owns_runner = owns_runner

    @classmethod
    def connect(cls, url: str, config: StoreConfig | None = None, settings: Settings | None = None) -> Self:
        """A recorder with its own loop thread and connection; `close()` ends both."""
        return cls(Runner(url, settings), config, owns_runner=True)

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.runner.call(coro, self.config.call_timeout)

    def close(self) -> None:
        if self._owns_runner:
            self.runner.close()


class JetStreamAggregateRecorder(JetStreamRecorder, AggregateRecorder):
    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        self._call(self.log.insert(stored_events))
        return None

    def select_events(
        self, originator_id: UUID | str, *, gt: int | None = None, lte: int | None = None, desc: bool = False,
        limit: int | None = None,
    ) -> Sequence[StoredEvent]:
        return self._call(self.log.select_events(originator_id, gt=gt, lte=lte, desc=desc, limit=limit))


class JetStreamApplicationRecorder(JetStreamAggregateRecorder, ApplicationRecorder):
    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        return self._call(self.log.insert(stored_events))

    def select_notifications(
        self, start: int | None, limit: int, stop: int | None = None, topics: Sequence[str] = (), *,
        inclusive_of_start: bool = True,
    ) -> Sequence[Notification]:
        return self._call(self.log.select_notifications(start, limit, stop, topics, inclusive_of_start))

    def max_notification_id(self) -> int | None:
        return self._call(self.log.max_notification_id())

    def subscribe(self, gt: int | None = None, topics: Sequence[str] = ()) -> Subscription[ApplicationRecorder]:
        return JetStreamSubscription(self, gt=gt, topics=topics)


class JetStreamTrackingRecorder(JetStreamRecorder, TrackingRecorder):
    def insert_tracking(self, tracking: Tracking) -> None:
        self._call(self.log.insert((), tracking))

    def max_tracking_id(self, application_name: str) -> int | None:
        return self._call(self.log.max_tracking_id(application_name))


class JetStreamProcessRecorder(JetStreamTrackingRecorder, JetStreamApplicationRecorder, ProcessRecorder):
    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        return self._call(self.log.insert(stored_events, kwargs.get("tracking")))
