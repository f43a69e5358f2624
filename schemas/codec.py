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
- Hot path: the payload and the attributes are each validated exactly once.
"""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import ValidationError

from schemas import registry
from schemas.base import Message
from schemas.envelope import Envelope

_ATTRIBUTES = tuple(name for name in Envelope.model_fields if name != "data")


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

    message = _decode_data(type_str, payload, prefix=("data",))
    body["type"] = message.TYPE
    body["data"] = message
    try:
        return Envelope.model_validate(body)
    except ValidationError as exc:
        raise _from_validation_error(exc, ()) from None


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
