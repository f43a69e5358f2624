"""Where and how the eventsourcing recorders keep their records in JetStream.

`StoreConfig` names the stream, the subject prefixes of events and tracking
records, the tenant/aggregate used for plain (UUID) originator ids, and the
timeouts. `stream_config` is the stream such a store needs: atomic batches and
Direct Get on, delete and purge denied, nothing ever evicted (the same rules as
EVT in DESIGN.md, "The log"); `ensure_stream` creates it if missing and leaves
an existing stream untouched.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Mapping

from nats.js import JetStreamContext
from nats.js.api import StreamConfig
from nats.js.errors import NotFoundError

from bus.streams import event_stream
from bus.subjects import token


@dataclass(frozen=True)
class StoreConfig:
    stream: str = "EVT"
    event_prefix: str = "evt"
    tracking_prefix: str = "trk"
    default_tenant: str = "_platform"
    default_aggregate: str = "es"
    # Per NATS request (Direct Get page, publish ack); a publish is retried `publish_attempts` times.
    request_timeout: float = 5.0
    publish_attempts: int = 3
    # Upper bound for one recorder call as seen from the calling thread.
    call_timeout: float = 60.0
    # Must not exceed the server's `jetstream.limits.batch.max_msgs` (ServerProcess: 5000).
    max_batch: int = 5000
    conflict_retries: int = 5
    head_cache_size: int = 100_000
    replicas: int = 1
    duplicate_window: float = 120.0

    def __post_init__(self) -> None:
        for prefix in (self.event_prefix, self.tracking_prefix):
            for part in prefix.split("."):
                token(part, "subject prefix")
        if self.event_prefix == self.tracking_prefix:
            raise ValueError("event_prefix and tracking_prefix must differ")
        token(self.default_tenant, "tenant")
        token(self.default_aggregate, "aggregate")

    @property
    def events_filter(self) -> str:
        return f"{self.event_prefix}.>"

    def snapshots(self) -> StoreConfig:
        """Snapshots repeat (id, version) pairs of events, so they live in a stream of their own."""
        return replace(self, stream=f"{self.stream}_SNAPSHOTS", event_prefix=f"snap.{self.stream.lower()}",
                       tracking_prefix=f"snaptrk.{self.stream.lower()}")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None) -> StoreConfig:
        """TESSERA_ES_STREAM / _EVENT_PREFIX / _TRACKING_PREFIX / _DEFAULT_TENANT / _DEFAULT_AGGREGATE / _MAX_BATCH.

        With an eventsourcing `Environment`, `<APPNAME>_TESSERA_ES_STREAM` etc. win for that application.
        """
        env = env or {}
        given = {
            "stream": env.get("TESSERA_ES_STREAM"),
            "event_prefix": env.get("TESSERA_ES_EVENT_PREFIX"),
            "tracking_prefix": env.get("TESSERA_ES_TRACKING_PREFIX"),
            "default_tenant": env.get("TESSERA_ES_DEFAULT_TENANT"),
            "default_aggregate": env.get("TESSERA_ES_DEFAULT_AGGREGATE"),
            "max_batch": int(env.get("TESSERA_ES_MAX_BATCH") or 0) or None,
        }
        return cls(**{k: v for k, v in given.items() if v})


def stream_config(config: StoreConfig) -> StreamConfig:
    return event_stream(config.stream, [f"{config.event_prefix}.>", f"{config.tracking_prefix}.>"],
                        replicas=config.replicas, duplicate_window=config.duplicate_window)


async def ensure_stream(js: JetStreamContext, config: StoreConfig) -> bool:
    """Create the store's stream if it is missing; True if created. An existing stream is never changed."""
    try:
        await js.stream_info(config.stream)
        return False
    except NotFoundError:
        await js.add_stream(stream_config(config))
        return True
