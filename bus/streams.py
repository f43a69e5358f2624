"""The four streams of the log (plus dead letters and executor commands), provisioned idempotently.

`expected_streams(settings)` is the single statement of their settings (see
DESIGN.md, "The log"). `ensure_streams` creates what is missing and compares
what exists: a stream whose config drifted is reported as `StreamDrift` and
left untouched — changing the system of record's retention is an operator's
decision, never a side effect of starting a process.

EVT never evicts: no age/count limits, `discard: new` (reaching a configured
byte limit rejects the publish), deny delete and purge, atomic batches on.
Tracking positions of process applications live beside the events they
produced (`trk.<application>`) because an atomic batch spans one stream.
"""

from __future__ import annotations

from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from bus.errors import StreamDrift
from bus.settings import Settings

DAY = 86_400.0

COMPARED = (
    "subjects", "retention", "discard", "max_age", "max_msgs", "max_bytes", "storage", "num_replicas",
    "duplicate_window", "deny_delete", "deny_purge", "allow_atomic", "allow_direct",
)


def event_stream(name: str, subjects: list[str], *, replicas: int, duplicate_window: float,
                 max_bytes: int = -1) -> StreamConfig:
    """The rules of a system-of-record stream: never evict, never delete, atomic batches, Direct Get."""
    return StreamConfig(
        name=name, subjects=subjects, retention=RetentionPolicy.LIMITS, storage=StorageType.FILE,
        num_replicas=replicas, duplicate_window=duplicate_window, allow_direct=True, max_msgs=-1, max_age=0,
        max_bytes=max_bytes, discard=DiscardPolicy.NEW, deny_delete=True, deny_purge=True, allow_atomic=True,
    )


def expected_streams(settings: Settings) -> list[StreamConfig]:
    common = dict(
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        num_replicas=settings.replicas,
        duplicate_window=settings.duplicate_window,
        allow_direct=True,
        max_msgs=-1,
    )
    return [
        StreamConfig(name="CMD", subjects=["cmd.>"], max_age=365 * DAY, max_bytes=-1,
                     discard=DiscardPolicy.OLD, **common),
        event_stream("EVT", ["evt.>", "trk.>"], replicas=settings.replicas,
                     duplicate_window=settings.duplicate_window, max_bytes=settings.evt_max_bytes),
        StreamConfig(name="USAGE", subjects=["usage.>"], max_age=62 * DAY, max_bytes=-1,
                     discard=DiscardPolicy.NEW, deny_delete=True, allow_atomic=True, **common),
        StreamConfig(name="LOG", subjects=["log.>"], max_age=7 * DAY, max_bytes=-1,
                     discard=DiscardPolicy.OLD, **common),
        StreamConfig(name="DLQ", subjects=["dlq.>"], max_age=30 * DAY, max_bytes=-1,
                     discard=DiscardPolicy.OLD, **common),
        # launch/stop commands for executors (bus/control/dispatch.py); consumed by `exec-<cluster>`
        StreamConfig(name="EXEC", subjects=["exec.>"], max_age=7 * DAY, max_bytes=-1,
                     discard=DiscardPolicy.OLD, **common),
    ]


def differences(expected: StreamConfig, found: StreamConfig) -> dict[str, tuple[object, object]]:
    diff = {}
    for name in COMPARED:
        want, have = getattr(expected, name), getattr(found, name)
        if name == "subjects":
            want, have = sorted(want or []), sorted(have or [])
        if name in ("deny_delete", "deny_purge", "allow_atomic", "allow_direct"):
            want, have = bool(want), bool(have)
        if want != have:
            diff[name] = (want, have)
    return diff


async def ensure_streams(js: JetStreamContext, settings: Settings) -> list[str]:
    """Create missing streams; raise `StreamDrift` for the first that differs. Returns the names created."""
    created = []
    for config in expected_streams(settings):
        try:
            info = await js.stream_info(config.name)
        except NotFoundError:
            await js.add_stream(config)
            created.append(config.name)
            continue
        diff = differences(config, info.config)
        if diff:
            raise StreamDrift(config.name, diff)
    return created
