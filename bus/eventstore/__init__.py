"""eventsourcing persistence on JetStream: `PERSISTENCE_MODULE=bus.eventstore`.

The library's `InfrastructureFactory.construct` looks for exactly one factory
class in this module: `Factory`. The recorders, the mapper for our pydantic
envelopes and the config are importable from here too.
"""

from bus.eventstore.config import StoreConfig, ensure_stream, stream_config
from bus.eventstore.errors import StoreClosed, StoreRejected, StoreTimeout, StoreUnavailable, WriteOutcomeUnknown
from bus.eventstore.factory import Factory
from bus.eventstore.recorders import (
    JetStreamAggregateRecorder,
    JetStreamApplicationRecorder,
    JetStreamProcessRecorder,
    JetStreamTrackingRecorder,
)
from bus.eventstore.runner import Runner

__all__ = [
    "Factory",
    "JetStreamAggregateRecorder",
    "JetStreamApplicationRecorder",
    "JetStreamProcessRecorder",
    "JetStreamTrackingRecorder",
    "Runner",
    "StoreClosed",
    "StoreConfig",
    "StoreRejected",
    "StoreTimeout",
    "StoreUnavailable",
    "WriteOutcomeUnknown",
    "ensure_stream",
    "stream_config",
]
