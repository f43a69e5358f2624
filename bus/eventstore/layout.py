"""How eventsourcing records map onto JetStream messages, and back.

An event of originator `oid` at `version` with `topic` is the message
`<event_prefix>.<tenant>.<aggregate>.<id>.<event_token>`:
- `oid` of the form "tenant.aggregate.id" (our aggregates) uses those tokens;
  any other id (a UUID from the library's aggregates, or a slug) is filed under
  the configured default tenant and aggregate with id = str(oid).
- `event_token` is `<name>` of a Tessera type `tessera.<domain>.<name>.vN`, else
  the topic after its last ':' or '.', unsafe characters replaced by '_'.
- Headers carry the exact originator id, version and topic; the payload is the
  state bytes; `Nats-Msg-Id` = uuid5(NAMESPACE, "<oid>/<version>"), so the same
  event written twice is the same message and JetStream drops the copy.

A tracking record of application `app` is the message `<tracking_prefix>.<app>`
with header `Tessera-Tracking-Id`. Ids that cannot become subject tokens raise
ValueError: silently rewriting them could make two aggregates share a subject
and so share their optimistic-concurrency check.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from eventsourcing.persistence import Notification, StoredEvent, Tracking

from bus.direct import StoredMsg
from bus.eventstore.config import StoreConfig
from bus.publish import OutMsg
from schemas.base import TYPE_PATTERN

# = uuid5(schemas.ids.TESSERA_NAMESPACE, "eventstore/stored-event"), frozen: part of the wire contract
# (changing it changes every message id and breaks dedupe against the existing log).
NAMESPACE = uuid.UUID("6cdf67c9-b832-5af0-bc75-e7c8e9e04766")
H_ID = "Tessera-Originator-Id"
H_VERSION = "Tessera-Originator-Version"
H_TOPIC = "Tessera-Topic"
H_TRACKING = "Tessera-Tracking-Id"

_TOKEN = re.compile(r"[A-Za-z0-9_-]+")
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


@dataclass(frozen=True)
class Originator:
    """The subjects of one originator: `filter` is its OCC and load filter."""

    key: str
    tenant: str
    aggregate: str
    id: str
    prefix: str
    uses_default: bool

    @property
    def filter(self) -> str:
        return f"{self.prefix}.*"


def originator(config: StoreConfig, oid: uuid.UUID | str) -> Originator:
    key = str(oid)
    parts = key.split(".")
    if len(parts) == 3 and all(_TOKEN.fullmatch(p) for p in parts):
        tenant, aggregate, ident = parts
        default = False
    elif _TOKEN.fullmatch(key):
        tenant, aggregate, ident = config.default_tenant, config.default_aggregate, key
        default = True
    else:
        raise ValueError(
            f"originator id {key!r} cannot be stored: use a UUID, a [A-Za-z0-9_-] slug, "
            "or 'tenant.aggregate.id' with such tokens"
        )
    return Originator(key, tenant, aggregate, ident, f"{config.event_prefix}.{tenant}.{aggregate}.{ident}", default)


def event_token(topic: str) -> str:
    match = TYPE_PATTERN.match(topic)
    if match:
        return match[2]
    tail = re.split(r"[:.]", topic)[-1]
    return _UNSAFE.sub("_", tail) or "_"


def event_msg_id(oid: uuid.UUID | str, version: int) -> str:
    return str(uuid.uuid5(NAMESPACE, f"{oid}/{version}"))


def event_msg(config: StoreConfig, event: StoredEvent) -> OutMsg:
    who = originator(config, event.originator_id)
    return OutMsg(
        subject=f"{who.prefix}.{event_token(event.topic)}",
        data=bytes(event.state),
        msg_id=event_msg_id(event.originator_id, event.originator_version),
        headers={H_ID: who.key, H_VERSION: str(event.originator_version), H_TOPIC: event.topic},
    )


def tracking_subject(config: StoreConfig, application_name: str) -> str:
    if not _TOKEN.fullmatch(application_name):
        raise ValueError(f"application name {application_name!r} must be [A-Za-z0-9_-] to be a tracking subject")
    return f"{config.tracking_prefix}.{application_name}"


def tracking_msg(config: StoreConfig, tracking: Tracking) -> OutMsg:
    return OutMsg(
        subject=tracking_subject(config, tracking.application_name),
        data=b"",
        msg_id=str(uuid.uuid5(NAMESPACE, f"tracking/{tracking.application_name}/{tracking.notification_id}")),
        headers={H_TRACKING: str(tracking.notification_id)},
    )


def version_of(msg: StoredMsg) -> int:
    return int(msg.headers[H_VERSION])


def tracking_id_of(msg: StoredMsg) -> int:
    return int(msg.headers[H_TRACKING])


def stored_event(msg: StoredMsg, oid: uuid.UUID | str) -> StoredEvent:
    return StoredEvent(originator_id=oid, originator_version=version_of(msg), topic=msg.headers[H_TOPIC],
                       state=msg.data)


def notification(msg: StoredMsg) -> Notification:
    return Notification(
        id=msg.seq,
        originator_id=_original_id(msg.headers[H_ID]),
        originator_version=version_of(msg),
        topic=msg.headers[H_TOPIC],
        state=msg.data,
    )


def _original_id(key: str) -> uuid.UUID | str:
    # The library's aggregates use UUID ids and compare them as UUIDs; ours are dotted strings.
    if "." not in key:
        try:
            parsed = uuid.UUID(key)
        except ValueError:
            return key
        if str(parsed) == key:
            return parsed
    return key
