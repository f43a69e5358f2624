"""Pages and cursors of the registry lists, and the error for a bad query.

A cursor is the last listed item's sort key (a tuple ending in its id),
serialised as url-safe base64 JSON: opaque to callers, stable across changes
to other items. A cursor that does not decode is the caller's mistake
(`InvalidQuery`, HTTP 400 at the gateway), never a server error.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Generic, TypeVar

import orjson

T = TypeVar("T")


class InvalidQuery(ValueError):
    """An unknown sort or filter, or a malformed cursor: the caller's mistake (HTTP 400)."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


def encode_cursor(key: tuple | None) -> str | None:
    return None if key is None else base64.urlsafe_b64encode(orjson.dumps(list(key))).decode()


def decode_cursor(cursor: str | None) -> tuple | None:
    if not cursor:
        return None
    try:
        return tuple(orjson.loads(base64.urlsafe_b64decode(cursor.encode())))
    except (ValueError, TypeError, orjson.JSONDecodeError):
        raise InvalidQuery("cursor", "malformed cursor") from None
