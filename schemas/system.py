"""The bus's own platform messages.

`DeadLettered` is published on `dlq.<stream>.<consumer>` when a consumer gives up
on a message. It carries the original bytes (base64) and headers verbatim, so
the message can be inspected and replayed even when it could not be decoded.
"""

from __future__ import annotations

from schemas.base import Event


class DeadLettered(Event):
    TYPE = "tessera.bus.dead_lettered.v1"

    stream: str
    subject: str
    stream_sequence: int
    delivered: int
    error: str
    consumer: str
    original_headers: dict[str, str]
    original_data_b64: str
