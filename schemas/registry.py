"""The one registry of wire types: type string -> message class, plus upcasters.

Guarantees:
- A type string names exactly one class for the life of the process; registering
  a second, different class under the same type raises instead of silently
  shadowing the first (two teams picking the same name is a contract bug).
- Old payloads are converted by explicit upcasters, one hop at a time
  (`v1 -> v2 -> v3`), until they reach a type that has a registered class.
  Upcasters operate on plain JSON dicts, so old versions need no Python class.

Concrete message classes register themselves when they are defined (see
`schemas.base`); nothing here does I/O or reads settings.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from schemas.base import Message

Upcaster = Callable[[dict], dict]

_classes: dict[str, type[Message]] = {}
_upcasters: dict[str, tuple[str, Upcaster]] = {}


class UnknownMessageType(LookupError):
    def __init__(self, type_str: str) -> None:
        super().__init__(f"unknown message type {type_str!r}")
        self.type_str = type_str


def register(cls: type[Message]) -> type[Message]:
    existing = _classes.get(cls.TYPE)
    if existing is not None and existing is not cls:
        raise ValueError(
            f"message type {cls.TYPE!r} is already registered to "
            f"{existing.__module__}.{existing.__qualname__}"
        )
    _classes[cls.TYPE] = cls
    return cls


def lookup(type_str: str) -> type[Message]:
    try:
        return _classes[type_str]
    except KeyError:
        raise UnknownMessageType(type_str) from None


def all_types() -> list[str]:
    return sorted(_classes)


def register_upcaster(from_type: str, to_type: str, fn: Upcaster) -> None:
    """Declare how a `from_type` payload becomes a `to_type` payload.

    `to_type` need not be registered yet (it may itself be upcast further), so
    modules can declare their chain in any import order.
    """
    from schemas.base import parse_type  # base imports this module

    parse_type(from_type)
    parse_type(to_type)
    if from_type == to_type:
        raise ValueError(f"upcaster from {from_type!r} to itself")
    existing = _upcasters.get(from_type)
    if existing is not None and existing != (to_type, fn):
        raise ValueError(f"an upcaster from {from_type!r} is already registered")
    _upcasters[from_type] = (to_type, fn)


def upcast(type_str: str, payload: dict) -> tuple[str, dict]:
    """Follow upcasters from `type_str` until a registered class is reached.

    A registered type is returned untouched even if an upcaster from it exists:
    while a class is still defined, its payloads decode as themselves.
    Raises UnknownMessageType when the chain ends without a registered class.
    """
    seen = {type_str}
    while type_str not in _classes:
        step = _upcasters.get(type_str)
        if step is None:
            raise UnknownMessageType(type_str)
        type_str, fn = step[0], step[1]
        if type_str in seen:
            raise ValueError(f"upcaster cycle through {type_str!r}")
        seen.add(type_str)
        # Upcasters get a copy so a buggy one cannot corrupt the caller's dict.
        payload = fn(dict(payload))
    return type_str, payload
