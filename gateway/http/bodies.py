"""Spec uploads (jobs, workflows, clusters, dry-runs): JSON or YAML in, every problem out.

`read_document(request)` reads the body (within the size limit: limits.py)
and parses it by Content-Type: `application/json` (or none) with orjson,
`application/yaml`, `application/x-yaml`, `text/yaml`, `text/x-yaml` with
`yaml.safe_load` (no arbitrary objects). A syntax error is 400 bad_request;
another type is 415. `spec_schema(model)` documents the body in OpenAPI
(both media types) for routes that read it this way.

Validation is the caller's: jobs through `JobSpec` (errors.from_validation),
clusters and workflows through their domain validators, which list every
problem at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
import yaml
from fastapi import Request
from pydantic import BaseModel

from gateway.http.errors import ApiError, BadRequest, Invalid

YAML_TYPES = frozenset({"application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml"})
JSON_TYPES = frozenset({"application/json", ""})


@dataclass(frozen=True)
class Document:
    data: Any
    text: str
    format: str  # "json" | "yaml"
    raw: bytes


async def read_document(request: Request) -> Document:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype not in YAML_TYPES and ctype not in JSON_TYPES and not ctype.endswith("+json"):
        raise ApiError(f"unsupported Content-Type {ctype!r}: send application/json or application/yaml",
                       field="header.Content-Type", code="unsupported_media_type", status=415)
    raw = await request.body()
    if not raw.strip():
        raise Invalid([("spec", "the request body is empty: send the spec")])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("the request body is not UTF-8 text", field="body") from None
    if ctype in YAML_TYPES:
        try:
            return Document(yaml.safe_load(text), text, "yaml", raw)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" (line {mark.line + 1})" if mark is not None else ""
            raise BadRequest(f"invalid YAML{where}: {getattr(exc, 'problem', None) or exc}", field="body") from None
    try:
        return Document(orjson.loads(raw), text, "json", raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"invalid JSON: {exc}", field="body") from None


def mapping(doc: Document, what: str) -> dict:
    if not isinstance(doc.data, dict):
        got = "nothing" if doc.data is None else type(doc.data).__name__
        raise Invalid([("spec", f"expected a mapping with the {what}'s fields, got {got}")])
    return doc.data


def prefixed(path: str, prefix: str = "spec") -> str:
    if not path:
        return prefix
    return f"{prefix}{path}" if path.startswith("[") else f"{prefix}.{path}"


_SCHEMAS: dict[str, dict] = {}


def spec_schema(model: type[BaseModel], description: str) -> dict:
    """`openapi_extra` for a route whose body is `model` as JSON or YAML (components merged by app.py)."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, sub in schema.pop("$defs", {}).items():
        _SCHEMAS.setdefault(name, sub)
    _SCHEMAS.setdefault(model.__name__, schema)
    ref = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {"requestBody": {"required": True, "description": description, "content": {
        "application/json": {"schema": ref},
        "application/yaml": {"schema": {"type": "string", "description": f"the {model.__name__} as YAML"}},
    }}}


def extra_components() -> dict[str, dict]:
    return dict(_SCHEMAS)


RESERVED_LABEL_PREFIX = "tessera.dev/"


def reserved_labels(labels: dict[str, str], path: str) -> list[tuple[str, str]]:
    """Labels under `tessera.dev/` are the platform's (e.g. which jobs are inference agents, which get
    platform credentials from the local backend): a tenant's spec may not set them."""
    return [(f"{path}.{key}", f"label keys under {RESERVED_LABEL_PREFIX} are reserved for the platform")
            for key in labels if key.startswith(RESERVED_LABEL_PREFIX)]
