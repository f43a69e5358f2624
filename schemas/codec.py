"""Bytes <-> Envelope: structured-mode CloudEvents JSON, via orjson.

Wire shape: every envelope attribute at the top level (unset optional ones
omitted, as CloudEvents treats null as absent) and the payload under "data".

Guarantees:
- `decode` never returns a partially valid envelope: any problem raises
  `DecodeError(field, problem)` where `field` is the dotted path of the first
  failing field (`type`, `data.gpus`, `time`, or `$` for the whole body).
  Consumers dead-letter on DecodeError; retrying cannot fix the bytes.
- Old payload versions are upcast before validation, so handlers only ever
  see the current class.
- Hot path: the attributes and the payload are validated together in one
  pydantic call against a per-type wire model (the envelope's attribute fields
  with their constraints, `data` typed as the payload's class), followed by the
  envelope's cross-field rules in plain Python. It accepts exactly what
  `Envelope.model_validate` accepts (same field definitions, same rules); any
  failure re-runs the original path, so errors are reported as before.
"""

from __future__ import annotations

from datetime import timezone
from typing import Any

import orjson
from pydantic import BaseModel, ValidationError, create_model

from schemas import registry
from schemas.base import Command, Event, Message
from schemas.envelope import Envelope

_ATTRIBUTES = tuple(name for name in Envelope.model_fields if name != "data")
_EVENT_ONLY = ("aggregate", "aggregateid", "version")
_wire_models: dict[type[Message], type[BaseModel]] = {}
_wire_by_type: dict[str, type[BaseModel]] = {}  # registered types only: a type names one class for good
_new_envelope = Envelope.__new__
_set = object.__setattr__
_PLAIN = Envelope.__pydantic_post_init__ is None and not Envelope.__private_attributes__  # nothing to initialise


class DecodeError(ValueError):
    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.field, self.problem))


def encode(env: Envelope) -> bytes:
    body: dict[str, Any] = {}
    for name in _ATTRIBUTES:
        value = getattr(env, name)
        if value is not None:
            body[name] = value
    body["data"] = env.data.model_dump(mode="json")
    # orjson renders the (always UTC) datetime itself; OPT_UTC_Z writes "Z".
    return orjson.dumps(body, option=orjson.OPT_UTC_Z)


def decode(raw: bytes | bytearray | memoryview | str) -> Envelope:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise DecodeError("$", f"malformed JSON: {exc}") from None
    if not isinstance(body, dict):
        raise DecodeError("$", f"expected a JSON object, got {type(body).__name__}")
    # Checked first so non-CloudEvents input fails with the plainest message.
    if body.get("specversion") != "1.0":
        raise DecodeError("specversion", f"expected '1.0', got {body.get('specversion')!r}")
    type_str = body.get("type")
    if not isinstance(type_str, str):
        raise DecodeError("type", "field required" if type_str is None else "must be a string")
    payload = body.get("data")
    if not isinstance(payload, dict):
        raise DecodeError("data", "field required" if payload is None else "expected a JSON object")

    fast = _decode_fast(body, type_str, payload)
    if fast is not None:
        return fast
    message = _decode_data(type_str, payload, prefix=("data",))
    body["type"] = message.TYPE
    body["data"] = message
    try:
        return Envelope.model_validate(body)
    except ValidationError as exc:
        raise _from_validation_error(exc, ()) from None


def _wire_model(cls: type[Message]) -> type[BaseModel]:
    """Envelope's fields (same annotations and constraints) with `data` typed as `cls`, no validators."""
    model = _wire_models.get(cls)
    if model is None:
        fields: dict[str, Any] = {
            name: (cls if name == "data" else field.annotation, field) for name, field in Envelope.model_fields.items()
        }
        model = _wire_models[cls] = create_model(f"Wire{cls.__name__}", __config__=Envelope.model_config, **fields)
    return model


def _decode_fast(body: dict, type_str: str, payload: dict) -> Envelope | None:
    """The envelope if everything validates in one pass; None to take the original path (which reports why)."""
    try:
        model = _wire_by_type.get(type_str)
        if model is None:
            current, payload = registry.upcast(type_str, payload)
            model = _wire_model(registry.lookup(current))
            if current == type_str:
                _wire_by_type[type_str] = model
            body["type"], body["data"] = current, payload  # the original path below re-reads neither
        wire = model.model_validate(body)
    except Exception:  # noqa: BLE001 - whatever it was, the original path reports it
        return None
    values = wire.__dict__
    if isinstance(values["data"], Event):
        if values["aggregate"] is None or values["aggregateid"] is None or values["version"] is None:
            return None
    elif not isinstance(values["data"], Command) or any(values[name] is not None for name in _EVENT_ONLY):
        return None
    values["time"] = values["time"].astimezone(timezone.utc)  # Envelope._to_utc
    if not _PLAIN:
        return Envelope.model_construct(wire.__pydantic_fields_set__, **values)
    env = _new_envelope(Envelope)  # what Envelope.model_construct does, without its per-field loop
    _set(env, "__dict__", values)
    _set(env, "__pydantic_fields_set__", wire.__pydantic_fields_set__)
    _set(env, "__pydantic_extra__", None)
    _set(env, "__pydantic_private__", None)
    return env


def decode_data(type_str: str, payload: dict) -> Message:
    """Payload dict -> message instance (upcast first). Error fields are relative to the payload."""
    return _decode_data(type_str, payload, prefix=())


def _decode_data(type_str: str, payload: dict, prefix: tuple[str, ...]) -> Message:
    try:
        type_str, payload = registry.upcast(type_str, payload)
    except registry.UnknownMessageType:
        raise DecodeError("type", f"unknown message type {type_str!r}") from None
    except Exception as exc:  # a broken upcaster or an old payload it cannot handle
        raise DecodeError(_dotted(prefix), f"cannot upcast {type_str!r}: {exc!r}") from None
    try:
        return registry.lookup(type_str).model_validate(payload)
    except ValidationError as exc:
        raise _from_validation_error(exc, prefix) from None


def _from_validation_error(exc: ValidationError, prefix: tuple[str, ...]) -> DecodeError:
    first = exc.errors(include_url=False, include_input=False)[0]
    return DecodeError(_dotted(prefix + tuple(first["loc"])), first["msg"])


def _dotted(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc) or "$"
