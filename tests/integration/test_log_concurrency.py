"""T1, T2: per-aggregate optimistic concurrency on the EVT stream.

T1: 20 writers race on ONE aggregate. Each reads the head (Direct Get, last
message on `evt.t.job.j1.*`), decides version = head version + 1, publishes with
`Expectation(filter, head seq)`, and on `ConcurrencyConflict` reads again and
re-decides. Exactly one writer wins each version.

T2: 10 writers × 100 aggregates each × 10 events: writers never share an
aggregate, so no publish may conflict, and each aggregate's versions are 1..10.
"""

from __future__ import annotations

import asyncio
import time

from bus import direct
from bus.errors import ConcurrencyConflict, PublishError
from bus.publish import CONFLICT_CODES, Expectation, Publisher
from schemas import decode
from tests.integration.conftest import Ledger, probe_event, stored_msgs, versions_by_aggregate

FILTER = "evt.t.job.j1.*"


async def test_20_writers_on_one_aggregate_store_exactly_1000_versions_in_order(nc):
    writers, per_writer = 20, 50
    publisher = Publisher(nc, timeout=5.0)
    ledger = Ledger()
    rejections: list[Exception] = []

    async def writer(w: int) -> None:
        for n in range(per_writer):
            while True:
                head = await direct.last_for(nc, "EVT", FILTER)
                head_seq = head.seq if head else 0
                version = decode(head.data).version + 1 if head else 1
                # the command (w, n) is the same across retries, so its event id is too
                out, _ = probe_event("t", "job", "j1", writer=w, n=n, version=version)
                ledger.attempt(out.msg_id)
                try:
                    await publisher.publish(out, Expectation(FILTER, head_seq))
                except PublishError as exc:
                    rejections.append(exc)
                    continue
                ledger.ack(out.msg_id)
                break

    started = time.monotonic()
    await asyncio.gather(*(writer(w) for w in range(writers)))
    elapsed = time.monotonic() - started

    stored = await stored_msgs(nc, subject=FILTER)
    summary = ledger.check([m.msg_id for m in stored])
    assert summary["acked"] == summary["stored"] == writers * per_writer
    assert rejections, "20 writers on one aggregate must have raced at least once"
    assert all(isinstance(r, ConcurrencyConflict) and r.err_code in CONFLICT_CODES for r in rejections), {
        type(r).__name__ for r in rejections
    }
    versions = [decode(m.data).version for m in stored]
    assert versions == list(range(1, writers * per_writer + 1))
    print(f"T1: {summary}, conflicts {len(rejections)}, {elapsed:.1f}s")


async def test_writers_on_disjoint_aggregates_never_conflict_and_versions_are_contiguous(nc):
    writers, aggregates, events = 10, 100, 10
    publisher = Publisher(nc, timeout=5.0)
    ledger = Ledger()
    rejections: list[Exception] = []

    async def aggregate(w: int, a: int) -> None:
        agg_id = f"w{w}-a{a}"
        flt = f"evt.t.job.{agg_id}.*"
        head = await direct.last_for(nc, "EVT", flt)
        head_seq = head.seq if head else 0
        for n in range(events):
            out, _ = probe_event("t", "job", agg_id, writer=w, n=n, version=n + 1)
            ledger.attempt(out.msg_id)
            try:
                ack = await publisher.publish(out, Expectation(flt, head_seq))
            except PublishError as exc:
                rejections.append(exc)
                return
            ledger.ack(out.msg_id)
            head_seq = ack.seq

    async def writer(w: int) -> None:
        # one writer works on its aggregates concurrently, so the stream interleaves all of them
        await asyncio.gather(*(aggregate(w, a) for a in range(aggregates)))

    started = time.monotonic()
    await asyncio.gather(*(writer(w) for w in range(writers)))
    elapsed = time.monotonic() - started

    assert rejections == []
    stored = await stored_msgs(nc, subject="evt.t.job.>")
    summary = ledger.check([m.msg_id for m in stored])
    assert summary["stored"] == writers * aggregates * events
    per_aggregate = versions_by_aggregate(stored)
    assert len(per_aggregate) == writers * aggregates
    assert all(v == list(range(1, events + 1)) for v in per_aggregate.values())
    print(f"T2: {summary}, {elapsed:.1f}s")
