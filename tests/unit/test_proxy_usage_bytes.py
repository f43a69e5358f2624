"""The proxy's fast usage encoding (usage.fields_msg) gives exactly the envelope the schema path gives.

The hot path skips pydantic for the usage record; these cases hold its bytes
equal to `encode(usage_envelope(InferenceRequestRecorded(...)))` and check that
the strict decoder reads them back as the same record, for every shape a
record takes (served, refused, aborted stream with estimates, embeddings).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gateway.proxy.bodies import parse
from gateway.proxy.meter import Meter
from gateway.proxy.usage import fields_msg, usage_msg
from schemas import decode

CHAT = b'{"model": "llama", "max_tokens": 4, "messages": [{"role": "user", "content": "one two three"}]}'


class Entry:
    deployment, replica, generation = "dep-llama", 2, 3


def served() -> Meter:
    m = Meter("a" * 32, "acme", "key123", parse("chat.completions", CHAT), datetime(2026, 1, 2, 3, 4, 5, 6, UTC))
    m.served_by(Entry())
    m.attempts, m.outcome, m.status = 1, "ok", 200
    m.usage({"prompt_tokens": 3, "completion_tokens": 4})
    return m


def refused() -> Meter:
    m = Meter("b" * 32, "acme", "key123", parse("chat.completions", CHAT), datetime(2026, 1, 2, 3, 4, 5, 0, UTC))
    m.attempts = 3
    return m


def aborted_stream() -> Meter:
    body = CHAT[:-1] + b', "stream": true}'
    m = Meter("c" * 32, "globex", "k9", parse("chat.completions", body), datetime.now(UTC))
    m.served_by(Entry())
    m.outcome, m.status, m.attempts = "aborted", 499, 1
    m.chunk()
    m.chunk()
    return m


def embeddings() -> Meter:
    m = Meter("d" * 32, "acme", "key123", parse("embeddings", b'{"model": "minilm", "input": ["x y", "z"]}'),
              datetime.now(UTC))
    m.served_by(Entry())
    m.outcome, m.status, m.attempts = "ok", 200, 1
    m.usage({"prompt_tokens": 3, "total_tokens": 3})
    return m


@pytest.mark.parametrize("make", [served, refused, aborted_stream, embeddings])
def test_the_fast_usage_bytes_equal_the_schema_paths_and_decode_strictly(make):
    fields = make().fields()
    fast = fields_msg(fields)
    from schemas.usage import InferenceRequestRecorded

    reference = usage_msg(InferenceRequestRecorded(**fields))
    assert (fast.subject, fast.msg_id) == (reference.subject, reference.msg_id)
    assert fast.data == reference.data
    env = decode(fast.data)
    assert env.data == InferenceRequestRecorded(**fields) and env.id == fields["request_id"]
