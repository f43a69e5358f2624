"""The envelope: CloudEvents 1.0 attributes plus Tessera's routing/tracing fields.

Guarantees (enforced on construction, so an invalid envelope never exists):
- `type` equals `data.TYPE`; the payload is a registered Command or Event.
- Events carry `aggregate`, `aggregateid` and `version` (>= 1); commands carry
  none of them. These feed the EVT subject and optimistic concurrency.
- `time` is timezone-aware and normalised to UTC (naive datetimes are rejected:
  their meaning depends on the host clock's zone).
- `tenant`, `aggregate` and `aggregateid` are NATS-subject-safe tokens.
- Event ids are deterministic (`schemas.ids.event_id`), so re-deciding a
  redelivered command produces the same envelope ids; `uuid4` is only used for
  commands entering at the edge when the caller has no id.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    SerializeAsAny,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from schemas import registry
from schemas.base import Command, Event, Message
from schemas.ids import event_id

PLATFORM_TENANT = "_platform"
SUBJECT_TOKEN = r"^[A-Za-z0-9_-]+$"


def _rule(message: str) -> PydanticCustomError:
    # A custom error keeps the message free of pydantic's "Value error, " prefix.
    return PydanticCustomError("envelope_rule", message)


class Envelope(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    specversion: Literal["1.0"]
    id: str = Field(min_length=1)
    source: str = Field(min_length=1)
    type: str
    subject: str | None = None
    time: AwareDatetime
    datacontenttype: Literal["application/json"] = "application/json"
    tenant: str = Field(pattern=SUBJECT_TOKEN)
    actor: str = Field(min_length=1)
    correlationid: str = Field(min_length=1)
    causationid: str | None = None
    # `data` precedes the event-only fields so their validators can see it.
    # SerializeAsAny: dump the concrete payload's fields, not Message's (none).
    data: SerializeAsAny[Message]
    aggregate: str | None = Field(default=None, pattern=SUBJECT_TOKEN, validate_default=True)
    aggregateid: str | None = Field(default=None, pattern=SUBJECT_TOKEN, validate_default=True)
    version: int | None = Field(default=None, ge=1, validate_default=True)

    @model_validator(mode="before")
    @classmethod
    def _upcast_raw_payload(cls, values: Any) -> Any:
        # Only for dict input (e.g. Envelope.model_validate(json_obj)); the codec
        # upcasts itself and hands over a payload instance.
        if isinstance(values, dict) and isinstance(values.get("data"), dict):
            type_str = values.get("type")
            if isinstance(type_str, str):
                try:
                    new_type, payload = registry.upcast(type_str, values["data"])
                except registry.UnknownMessageType:
                    return values  # reported by the `data` validator below
                except Exception as exc:  # an old payload its upcaster cannot handle
                    raise _rule(f"cannot upcast {type_str!r}: {exc!r}") from None
                values = {**values, "type": new_type, "data": payload}
        return values

    @field_validator("time")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        return value.astimezone(timezone.utc)

    @field_validator("data", mode="before")
    @classmethod
    def _payload_from_type(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, dict):
            type_str = info.data.get("type")
            if type_str is None:
                raise _rule("cannot decode the payload without a valid type")
            try:
                message_cls = registry.lookup(type_str)
            except registry.UnknownMessageType as exc:
                raise _rule(str(exc)) from None
            return message_cls.model_validate(value)
        return value

    @field_validator("data")
    @classmethod
    def _payload_matches_type(cls, value: Message, info: ValidationInfo) -> Message:
        if not isinstance(value, (Command, Event)):
            raise _rule("payload must be a Command or an Event")
        type_str = info.data.get("type")
        if type_str is not None and type_str != value.TYPE:
            raise _rule(f"type {type_str!r} does not match payload type {value.TYPE!r}")
        return value

    @field_validator("aggregate", "aggregateid", "version")
    @classmethod
    def _event_only(cls, value: Any, info: ValidationInfo) -> Any:
        data = info.data.get("data")
        if isinstance(data, Event) and value is None:
            raise _rule("required for events")
        if isinstance(data, Command) and value is not None:
            raise _rule("must be unset for commands")
        return value

    @property
    def is_event(self) -> bool:
        return isinstance(self.data, Event)

    @classmethod
    def for_command(
        cls,
        cmd: Command,
        *,
        tenant: str,
        actor: str,
        source: str,
        time: datetime,
        id: str | None = None,
        correlationid: str | None = None,
        causationid: str | None = None,
    ) -> Envelope:
        """Wrap a command entering the system; a new command starts a correlation."""
        if not isinstance(cmd, Command):
            raise TypeError(f"for_command needs a Command, got {type(cmd).__name__}")
        # The edge is the only place a random id is allowed.
        env_id = id if id is not None else str(uuid.uuid4())
        return cls(
            specversion="1.0",
            id=env_id,
            source=source,
            type=cmd.TYPE,
            time=time,
            tenant=tenant,
            actor=actor,
            correlationid=correlationid if correlationid is not None else env_id,
            causationid=causationid,
            data=cmd,
        )

    @classmethod
    def for_event(
        cls,
        event: Event,
        *,
        cause: Envelope,
        index: int,
        aggregate: str,
        aggregateid: str,
        version: int,
        time: datetime,
        source: str | None = None,
    ) -> Envelope:
        """Wrap the `index`-th event decided from `cause`.

        Everything except `time` is a pure function of the cause and the
        decision, so re-deciding a redelivered cause yields the same ids.
        """
        if not isinstance(event, Event):
            raise TypeError(f"for_event needs an Event, got {type(event).__name__}")
        return cls(
            specversion="1.0",
            id=event_id(cause.id, index),
            source=source if source is not None else f"/tessera/{event.type_domain()}",
            type=event.TYPE,
            time=time,
            tenant=cause.tenant,
            actor=cause.actor,
            correlationid=cause.correlationid,
            causationid=cause.id,
            data=event,
            aggregate=aggregate,
            aggregateid=aggregateid,
            version=version,
        )
