"""T5: a 3-node cluster (R3, `sync_interval: always`) loses the EVT stream leader mid-load.

Three nats-server processes on loopback form one cluster; the streams are
provisioned R3 (Settings(replicas=3)). 20 writers publish through one client
that knows all three URLs: 10 writers with an expectation on their own
aggregate, 10 without on a shared subject per writer. After 400
acknowledgements the EVT leader is `kill -9`ed; the writers keep going through
the election. A publish that ends `PublishOutcomeUnknown` counts as unknown,
not acked, and the writer retries it with the same id (and expectation) until
its outcome is known; a retry that conflicts is resolved by reading the head
until it shows the writer's own message (Direct Get may answer from a replica
that is a moment behind).

Per run: acked ⊆ stored, stored ⊆ attempted, no id stored twice (lost =
duplicates = unexpected = 0); every write is finally acked; versions 1..N per
aggregate. Three runs, each on a fresh cluster.
"""

from __future__ import annotations

import asyncio
import collections
import time

import pytest

from bus import direct
from bus.connection import connect
from bus.errors import BusError, ConcurrencyConflict, PublishOutcomeUnknown
from bus.publish import Expectation, Publisher
from bus.settings import Settings
from bus.streams import ensure_streams
from tests.integration.conftest import Ledger, probe_event, stored_msgs, versions_by_aggregate

WRITERS, EVENTS, KILL_AFTER = 20, 60, 400


async def until(what, timeout: float = 30.0, every: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = await what()
            if result:
                return result
        except Exception:  # noqa: BLE001 - the cluster is still settling
            if time.monotonic() > deadline:
                raise
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {timeout}s")
        await asyncio.sleep(every)


async def leader_of(js, stream: str) -> str | None:
    info = await js.stream_info(stream)
    return info.cluster.leader if info.cluster else None


@pytest.mark.slow
@pytest.mark.parametrize("run", [1, 2, 3])
async def test_killing_the_stream_leader_mid_load_loses_and_duplicates_nothing(cluster, run):
    settings = Settings(replicas=3, publish_timeout=2.0)
    nc = await connect(",".join(node.url for node in cluster), settings, name=f"t5-run{run}")
    js = nc.jetstream(timeout=5.0)
    try:
        await until(lambda: _ensure(js, settings))
        leader = await until(lambda: leader_of(js, "EVT"))
        info = await js.stream_info("EVT")
        assert info.config.num_replicas == 3 and len(info.cluster.replicas or []) == 2

        publisher = Publisher(nc, timeout=1.0, attempts=2)
        ledger = Ledger()
        outcomes: collections.Counter[str] = collections.Counter()
        killed: list[str] = []

        async def known(out, expect: Expectation | None) -> int:
            ledger.attempt(out.msg_id)
            while True:
                try:
                    try:
                        seq = (await publisher.publish(out, expect)).seq
                    except ConcurrencyConflict as conflict:
                        # only this writer writes this aggregate: either an earlier copy of ours landed,
                        # or the head we can see has not moved (a replica a moment behind / a leader
                        # still catching up) and sending again is the right thing
                        head = await direct.last_for(nc, "EVT", expect.subject_filter, timeout=1.0)
                        if head is not None and head.msg_id == out.msg_id:
                            outcomes["conflict: landed earlier"] += 1
                            seq = head.seq
                        elif (head.seq if head else 0) <= expect.last_sequence:
                            outcomes["conflict: head not moved yet, resend"] += 1
                            await asyncio.sleep(0.1)
                            continue
                        else:
                            raise AssertionError(f"{out.msg_id}: {conflict}; head {head.seq} {head.msg_id}")
                except (PublishOutcomeUnknown, BusError, TimeoutError) as exc:
                    ledger.unknown.add(out.msg_id)
                    outcomes[type(exc).__name__] += 1
                    await asyncio.sleep(0.1)
                    continue
                ledger.ack(out.msg_id)
                return seq

        async def writer(w: int) -> None:
            with_expectation = w % 2 == 0
            flt, head = f"evt.t.r{run}.w{w}.*", 0
            for n in range(EVENTS):
                out, _ = probe_event("t", f"r{run}", f"w{w}", writer=w, n=n, version=n + 1)
                seq = await known(out, Expectation(flt, head) if with_expectation else None)
                head = seq

        async def killer() -> None:
            while len(ledger.acked) < KILL_AFTER:
                await asyncio.sleep(0.01)
            name = await leader_of(js, "EVT")
            node = next(n for n in cluster if n.name == name)
            node.kill()
            killed.append(name)

        started = time.monotonic()
        await asyncio.wait_for(asyncio.gather(killer(), *(writer(w) for w in range(WRITERS))), timeout=120)
        elapsed = time.monotonic() - started

        new_leader = await until(lambda: leader_of(js, "EVT"))
        assert killed and new_leader != killed[0]
        stored = await until(lambda: stored_msgs(nc, subject=f"evt.t.r{run}.>"))  # meta leader may be re-electing
        summary = ledger.check([m.msg_id for m in stored])
        assert summary["acked"] == summary["stored"] == WRITERS * EVENTS
        assert all(v == list(range(1, EVENTS + 1)) for v in versions_by_aggregate(stored).values())
        print(f"T5 run {run}: {summary}, leader {leader} killed -> {new_leader}, outcomes {dict(outcomes)}, "
              f"{elapsed:.1f}s")
    finally:
        await nc.close()


async def _ensure(js, settings) -> bool:
    await ensure_streams(js, settings)
    return True


async def _head_is(nc, subject_filter: str, msg_id: str):
    head = await direct.last_for(nc, "EVT", subject_filter, timeout=1.0)
    return head if head is not None and head.msg_id == msg_id else None
