"""`Idempotency-Key`: the same key from the same caller for the same operation means the same command.

With a key, the command id and the id of the object it creates are derived
(uuid5, `schemas.derived_id`) from (operation, tenant, user, sha256(key)):
every replica computes the same ids, so a retry can never create a second
object (the Nats-Msg-Id dedupe and the aggregate's command-id idempotency drop
the repeat; a JobExists-style refusal catches a different body). Routes check
their read model first and answer a repeat from it without sending again.

Per replica, a bounded LRU remembers sha256(body) per key: the same key with a
different body answers 409 `idempotency_mismatch` instead of silently
returning the first answer. Without a key, ids are random (uuid4: the edge is
the one place allowed to mint them).
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections import OrderedDict
from dataclasses import dataclass

from fastapi import Header

from gateway.http.errors import ApiError, Invalid
from schemas import derived_id

HEADER = "Idempotency-Key"
MAX_KEY = 255
KEY_PATTERN = r"^[!-~]{1,255}$"  # visible ASCII, no spaces: what survives every proxy unchanged
_KEY = re.compile(KEY_PATTERN)


def key_header(what: str = "answer"):
    """The route parameter: documented (with its pattern) in the OpenAPI document."""
    return Header(None, alias=HEADER, pattern=KEY_PATTERN,
                  description=f"retry-safe: the same key from the same caller -> the same {what}, never a second one")


@dataclass(frozen=True)
class Ids:
    command_id: str
    object_id: str
    keyed: bool


class IdempotencyKeys:
    def __init__(self, capacity: int = 10_000) -> None:
        self.capacity = capacity
        self._bodies: OrderedDict[str, str] = OrderedDict()

    def ids(self, operation: str, tenant: str, user: str, key: str | None, body: bytes | str = b"",
            object_id: str | None = None) -> Ids:
        """Ids for one command; raises 409 idempotency_mismatch / 422 for a bad key."""
        if key is None:
            return Ids(str(uuid.uuid4()), object_id or str(uuid.uuid4()), False)
        if not _KEY.match(key):
            raise Invalid([(f"header.{HEADER}", f"must be 1-{MAX_KEY} visible ASCII characters (no spaces)")])
        digest = hashlib.sha256(key.encode()).hexdigest()
        self._check(f"{operation}/{tenant}/{user}/{digest}", body)
        return Ids(derived_id("http-command", operation, tenant, user, digest),
                   object_id or derived_id("http-object", operation, tenant, user, digest), True)

    def _check(self, slot: str, body: bytes | str) -> None:
        raw = body.encode() if isinstance(body, str) else body
        digest = hashlib.sha256(raw).hexdigest()
        seen = self._bodies.get(slot)
        if seen is not None and seen != digest:
            raise ApiError(f"this {HEADER} was already used with a different request body",
                           field=f"header.{HEADER}", code="idempotency_mismatch", status=409)
        self._bodies[slot] = digest
        self._bodies.move_to_end(slot)
        while len(self._bodies) > self.capacity:
            self._bodies.popitem(last=False)
