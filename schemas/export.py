"""JSON Schema export: one file per registered message type.

Each file describes the full wire message (the envelope) with `data` narrowed to
that type's payload schema, `type` pinned to the type string, and the event-only
attributes required for events and forbidden for commands. Output is
deterministic (sorted keys, stable file names) so exports diff cleanly in review.
Only types registered at call time are exported: the caller imports the modules
that define them.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

import orjson

from schemas import registry
from schemas.base import Event
from schemas.envelope import Envelope

DRAFT = "https://json-schema.org/draft/2020-12/schema"
_EVENT_ONLY = ("aggregate", "aggregateid", "version")


def export_json_schemas(directory: Path, types: Iterable[str] | None = None) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for type_str in sorted(types) if types is not None else registry.all_types():
        path = directory / f"{type_str}.json"
        body = orjson.dumps(
            message_json_schema(type_str), option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2
        )
        path.write_bytes(body + b"\n")
        written.append(path)
    return written


def message_json_schema(type_str: str) -> dict[str, Any]:
    cls = registry.lookup(type_str)
    schema = copy.deepcopy(_envelope_schema())
    payload = cls.model_json_schema()
    defs = {**schema.pop("$defs", {}), **payload.pop("$defs", {})}
    defs.pop("Message", None)  # the abstract base, replaced by the payload below

    props = schema["properties"]
    props["type"] = {"const": type_str, "title": "Type", "type": "string"}
    props["data"] = payload
    required = set(schema.get("required", ()))
    if issubclass(cls, Event):
        for name in _EVENT_ONLY:
            props[name] = _without_null(props[name])
        required.update(_EVENT_ONLY)
    else:
        for name in _EVENT_ONLY:
            props.pop(name)
    schema["required"] = sorted(required)
    schema.update({"$schema": DRAFT, "$id": type_str, "title": type_str})
    if defs:
        schema["$defs"] = defs
    return schema


@lru_cache(maxsize=1)
def _envelope_schema() -> dict[str, Any]:
    return Envelope.model_json_schema()


def _without_null(prop: dict[str, Any]) -> dict[str, Any]:
    # pydantic renders `X | None = None` as anyOf[X, null] with default null.
    options = [o for o in prop.get("anyOf", ()) if o.get("type") != "null"]
    rest = {k: v for k, v in prop.items() if k not in ("anyOf", "default")}
    return {**options[0], **rest} if len(options) == 1 else rest
