"""Deterministic ids.

Every id that a decision produces is derived with uuid5 from ids already on the
log, never drawn at random: a redelivered command then yields byte-identical
events with the same ids, and JetStream's `Nats-Msg-Id` dedupe drops the copies.
Random ids (uuid4) are only minted at the edge, for commands entering the system.

`TESSERA_NAMESPACE` is part of the wire contract: changing it changes every
derived id and breaks dedupe against the existing log. Never change it.
"""

from __future__ import annotations

import uuid

# = uuid5(NAMESPACE_DNS, "tessera.dev"), frozen here as a literal on purpose.
TESSERA_NAMESPACE = uuid.UUID("3be18a6d-7a60-56d6-b6b4-c2986c199896")


def event_id(command_id: str, index: int) -> str:
    """Id of the `index`-th event (0-based) decided from command `command_id`."""
    if index < 0:
        raise ValueError(f"event index must be >= 0, got {index}")
    return str(uuid.uuid5(TESSERA_NAMESPACE, f"{command_id}/{index}"))


def derived_id(*parts: str | int) -> str:
    """A stable id for anything else derived from log data (allocations, keys...).

    Parts are joined with "/", so `derived_id(cmd_id, i) == event_id(cmd_id, i)`;
    prefix a kind label (`derived_id("allocation", job_id)`) to keep id spaces
    apart. A "/" inside a part would make two different part lists collide, so
    it is rejected.
    """
    if not parts:
        raise ValueError("derived_id needs at least one part")
    texts = [str(p) for p in parts]
    for text in texts:
        if not text or "/" in text:
            raise ValueError(f"derived_id part must be non-empty without '/': {text!r}")
    return str(uuid.uuid5(TESSERA_NAMESPACE, "/".join(texts)))
