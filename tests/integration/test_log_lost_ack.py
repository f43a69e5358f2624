"""T3: a publish whose answer never arrives is resolved, never duplicated, never lost.

A NATS-aware proxy (tests/integration/toxiproxy.py) sits between the client and
nats-server and spoils the FIRST attempt of every one of 1,000 publishes:
- drop_ack: the event landed, its PubAck is dropped;
- drop_pub: the publish is dropped, nothing landed;
- hold_pub: the publish is held back and lands just before the client's resend,
  after the client's read-back found it absent (the race the Publisher's
  conflict-then-find path exists for);
and a tenth of them lose the second attempt's ack too. 800 publishes carry an
expectation on their aggregate (8 in a row on each of 100 aggregates), 200 do
not and share 10 subjects (so a read-back often sees someone else's message
and the resend's duplicate answer has to resolve it).

Passes when every publish returns an Ack (the Publisher resolves it by
read-back / duplicate / conflict-then-find), and the ledger shows 0 lost,
0 duplicates, 0 unexpected; per-aggregate versions stay 1..8.
"""

from __future__ import annotations

import asyncio
import random
import time

import pytest

from bus.connection import connect
from bus import direct
from bus.errors import ConcurrencyConflict, PublishOutcomeUnknown
from bus.publish import Expectation, Publisher
from bus.streams import ensure_streams
from tests.integration.conftest import Ledger, probe_event, stored_msgs, versions_by_aggregate
from tests.integration.toxiproxy import Proxy

AGGREGATES, EVENTS, FREE, FREE_SUBJECTS = 100, 8, 200, 10


async def test_1000_publishes_with_lost_answers_resolve_without_loss_or_duplicates(nats_server, settings):
    rng = random.Random(3)
    proxy = await Proxy(nats_server.port).start()
    nc = await connect(proxy.url, settings)
    try:
        await ensure_streams(nc.jetstream(), settings)
        publisher = Publisher(nc, timeout=0.25, attempts=3)
        found_after_conflict = 0
        find_landed = publisher._find_landed

        async def counting_find_landed(last, expect):
            nonlocal found_after_conflict
            found = await find_landed(last, expect)
            found_after_conflict += found is not None
            return found

        publisher._find_landed = counting_find_landed  # observe which resolution path was taken
        ledger = Ledger()
        duplicate_acks = 0

        def spoil(msg_id: str) -> None:
            first = rng.choices(["drop_ack", "drop_pub", "hold_pub"], weights=[6, 2, 2])[0]
            proxy.plan[msg_id] = [first, "drop_ack"] if rng.random() < 0.1 else [first]

        async def aggregate(a: int) -> None:
            nonlocal duplicate_acks
            agg_id = f"a{a}"
            flt = f"evt.t.lost.{agg_id}.*"
            head = 0
            for n in range(EVENTS):
                out, _ = probe_event("t", "lost", agg_id, writer=0, n=n, version=n + 1)
                spoil(out.msg_id)
                ledger.attempt(out.msg_id)
                ack = await publisher.publish(out, Expectation(flt, head))
                ledger.ack(out.msg_id)
                duplicate_acks += ack.duplicate
                head = ack.seq

        async def free(i: int) -> None:
            nonlocal duplicate_acks
            out, _ = probe_event("t", "free", f"s{i % FREE_SUBJECTS}", writer=1, n=i, version=1)
            spoil(out.msg_id)
            ledger.attempt(out.msg_id)
            ack = await publisher.publish(out)
            ledger.ack(out.msg_id)
            duplicate_acks += ack.duplicate

        started = time.monotonic()
        await asyncio.gather(*(aggregate(a) for a in range(AGGREGATES)), *(free(i) for i in range(FREE)))
        elapsed = time.monotonic() - started

        stored = await stored_msgs(nc)
        summary = ledger.check([m.msg_id for m in stored])
        assert summary["acked"] == summary["stored"] == AGGREGATES * EVENTS + FREE
        spoiled = sum(proxy.applied[a] for a in ("drop_ack", "drop_pub", "hold_pub"))
        assert spoiled >= 1000, proxy.applied
        assert found_after_conflict > 0, "held copies landing before the resend must resolve via conflict-then-find"
        assert duplicate_acks > 0, "resends of landed expectation-less publishes must resolve as duplicates"
        assert all(proxy.sent[i] >= 2 for i, plan in proxy.plan.items() if plan[0] != "drop_ack"), (
            "a publish that never landed must have been sent again"
        )
        versions = versions_by_aggregate(stored, aggregate="lost")
        assert all(v == list(range(1, EVENTS + 1)) for v in versions.values()) and len(versions) == AGGREGATES
        print(f"T3: {summary}, proxy {dict(proxy.applied)}, duplicate acks {duplicate_acks}, found after conflict {found_after_conflict}, {elapsed:.1f}s")
    finally:
        await nc.close()
        await proxy.close()


async def test_a_resend_without_responders_after_a_lost_answer_is_unknown_not_failed(nats_server, settings):
    """The first copy landed but its answer and the read-back were lost; the resend meets no stream
    leader (503). That answer says nothing about the first copy: the outcome is unknown, never failed."""
    proxy = await Proxy(nats_server.port).start()
    nc = await connect(proxy.url, settings)
    try:
        await ensure_streams(nc.jetstream(), settings)
        publisher = Publisher(nc, timeout=0.25, attempts=2)
        ledger = Ledger()
        for n, expect in enumerate([None, Expectation("evt.t.nr.a1.*", 0)]):
            out, _ = probe_event("t", "nr", f"a{n}", writer=0, n=n, version=1)
            proxy.plan[out.msg_id] = ["drop_ack", "no_responders"]
            ledger.attempt(out.msg_id)
            proxy.drop_direct = True
            with pytest.raises(PublishOutcomeUnknown):
                await publisher.publish(out, expect)
            ledger.unknown.add(out.msg_id)
            proxy.drop_direct = False
            # the caller resolves an unknown outcome by sending the same message again
            if expect is None:
                assert (await publisher.publish(out)).duplicate
            else:
                with pytest.raises(ConcurrencyConflict):  # it landed: the aggregate moved on
                    await publisher.publish(out, expect)
                assert (await direct.last_for(nc, "EVT", expect.subject_filter)).msg_id == out.msg_id
            ledger.ack(out.msg_id)
        stored = await stored_msgs(nc)
        ledger.check([m.msg_id for m in stored])
    finally:
        await nc.close()
        await proxy.close()
