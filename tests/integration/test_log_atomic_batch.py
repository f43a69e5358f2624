"""T12: the events of one decision are one atomic batch: all stored, or none.

- A batch whose expectation is stale (the aggregate moved on) is refused as a
  ConcurrencyConflict and stores nothing: the stream's last sequence is
  unchanged and no id of the batch can be read back.
- A batch with the right expectation stores all its events at contiguous
  sequences, in order; the Ack covers them all.
- Sending that recorded batch again (same ids) is refused as a DuplicateBatch
  and stores nothing more.
"""

from __future__ import annotations

import pytest

from bus import direct
from bus.errors import ConcurrencyConflict
from bus.publish import DuplicateBatch, Expectation, Publisher
from tests.integration.conftest import Ledger, probe_event, stored_msgs

FILTER = "evt.t.batch.b1.*"


def decision(cause: str, first_version: int, size: int = 5):
    msgs = []
    for i in range(size):
        out, _ = probe_event("t", "batch", "b1", writer=0, n=i, version=first_version + i, cause=f"{cause}-{i}")
        msgs.append(out)
    return msgs


async def test_a_stale_batch_stores_nothing_and_a_valid_batch_stores_all_contiguously(nc):
    publisher = Publisher(nc)
    js = nc.jetstream()
    ledger = Ledger()
    for out in decision("first", 1, size=2):
        ledger.attempt(out.msg_id)
        await publisher.publish(out)
        ledger.ack(out.msg_id)
    head = await direct.last_for(nc, "EVT", FILTER)
    assert head.seq == 2

    stale = decision("stale", 3)
    for out in stale:
        ledger.attempt(out.msg_id)
    with pytest.raises(ConcurrencyConflict) as conflict:
        await publisher.publish_batch(stale, Expectation(FILTER, 1))
    assert (conflict.value.subject_filter, conflict.value.expected, conflict.value.actual) == (FILTER, 1, 2)
    assert (await js.stream_info("EVT")).state.last_seq == 2
    assert not {m.msg_id for m in await stored_msgs(nc)} & {m.msg_id for m in stale}

    valid = decision("valid", 3)
    for out in valid:
        ledger.attempt(out.msg_id)
    ack = await publisher.publish_batch(valid, Expectation(FILTER, head.seq))
    for out in valid:
        ledger.ack(out.msg_id)
    assert (ack.count, ack.first_seq, ack.seq) == (5, 3, 7)
    stored = await direct.read_subject(nc, "EVT", FILTER, start_seq=3)
    assert [(m.seq, m.msg_id) for m in stored] == [(3 + i, m.msg_id) for i, m in enumerate(valid)]

    with pytest.raises(DuplicateBatch):
        await publisher.publish_batch(valid)
    assert (await js.stream_info("EVT")).state.last_seq == 7

    summary = ledger.check([m.msg_id for m in await stored_msgs(nc)])
    assert summary["acked"] == summary["stored"] == 7
