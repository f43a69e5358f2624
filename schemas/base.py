"""Message base classes: the typed payloads carried on the bus.

Guarantees:
- Every message is a frozen pydantic model with `extra="forbid"`: a payload
  cannot be mutated after creation and an unknown field is an error, not data
  silently dropped.
- Every concrete message declares `TYPE = "tessera.<domain>.<name>.v<N>"`, a
  stable wire name independent of Python module paths, and is registered in
  `schemas.registry` the moment its class is created. Classes that do not set
  TYPE themselves (abstract bases) are not registered.

Commands are imperative (`SubmitJob`), events past tense (`JobSubmitted`).
Schemas carry no behaviour beyond this.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from schemas import registry

_TOKEN = r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*"
TYPE_PATTERN = re.compile(rf"^tessera\.({_TOKEN})\.({_TOKEN})\.v([1-9][0-9]*)$")


@lru_cache(maxsize=None)
def parse_type(type_str: str) -> tuple[str, str, int]:
    """Split a type string into (domain, name, version); ValueError if malformed."""
    match = TYPE_PATTERN.match(type_str) if isinstance(type_str, str) else None
    if match is None:
        raise ValueError(
            f"invalid message type {type_str!r}: expected "
            "'tessera.<domain>.<name>.v<N>' with lowercase snake_case tokens"
        )
    return match[1], match[2], int(match[3])


class Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    TYPE: ClassVar[str]

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        # Only a class that sets TYPE itself is concrete; an inherited TYPE
        # would register a subclass under its parent's name.
        type_str = cls.__dict__.get("TYPE")
        if type_str is None:
            return
        parse_type(type_str)
        if not issubclass(cls, (Command, Event)):
            raise TypeError(f"{cls.__qualname__} must derive from Command or Event")
        registry.register(cls)

    # Not `domain()`/`name()`: payload fields called `name` or `domain` are
    # common and would shadow (and break) such classmethods.
    @classmethod
    def type_domain(cls) -> str:
        return parse_type(cls.TYPE)[0]

    @classmethod
    def type_name(cls) -> str:
        return parse_type(cls.TYPE)[1]

    @classmethod
    def schema_version(cls) -> int:
        return parse_type(cls.TYPE)[2]


class Command(Message):
    """A request to change state; may be rejected. Named in the imperative."""


class Event(Message):
    """A state change that happened; a fact on the log. Named in the past tense."""
