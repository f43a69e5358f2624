"""T4: `kill -9` nats-server during load, restart it on the same store dir: 0 acknowledged writes lost.

Production runs `sync_interval: always` (fsync before every PubAck): with the
default interval (fsync every 2 minutes) an OS crash or power loss can lose
writes that were already acknowledged, because they sat only in the page cache.
A process kill (SIGKILL) does not lose page-cache data — the kernel still
writes it out — so this test must show 0 loss in both modes; it cannot show
the OS-crash case, which is why production does not rely on the default.

20 writers, each with its own aggregate, publish 150 events each with an
expectation on their aggregate while the server is killed twice mid-load and
restarted on the same ports and store. A publish that gets no answer is
`PublishOutcomeUnknown` and is retried with the same id and expectation; a
retry that conflicts is resolved by reading the aggregate's head. The ledger
checks acknowledged ⊆ stored, stored ⊆ attempted, no id stored twice, and at
the end (every write eventually acknowledged) stored = attempted, with
per-aggregate versions 1..150.
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
from bus.server import ServerProcess
from bus.streams import ensure_streams
from tests.integration.conftest import Ledger, probe_event, stored_msgs, versions_by_aggregate

WRITERS, EVENTS = 20, 150
KILL_AT = (800, 1800)  # acknowledged writes before each kill
DOWN = 1.5  # seconds between kill and restart: about a publish's attempts, so some outcomes end unknown


async def publish_until_known(nc, publisher: Publisher, ledger: Ledger, errors: collections.Counter,
                              out, expect: Expectation) -> int:
    """Retry an unknown outcome with the same message and expectation until it is known; returns its sequence."""
    ledger.attempt(out.msg_id)
    while True:
        try:
            try:
                seq = (await publisher.publish(out, expect)).seq
            except ConcurrencyConflict:
                # an earlier attempt of ours landed (its answer was lost with the server)
                head = await direct.last_for(nc, "EVT", expect.subject_filter)
                assert head is not None and head.msg_id == out.msg_id, f"{out.msg_id}: real conflict, no one else writes"
                seq = head.seq
        except (PublishOutcomeUnknown, BusError, TimeoutError) as exc:  # server down or restarting: not known yet
            ledger.unknown.add(out.msg_id)
            errors[type(exc).__name__] += 1
            await asyncio.sleep(0.05)
            continue
        ledger.ack(out.msg_id)
        return seq


@pytest.mark.parametrize("sync_always", [False, True], ids=["default-sync", "sync-always"])
async def test_kill_9_during_load_loses_no_acknowledged_write(tmp_path, settings, sync_always):
    store = tmp_path / "store"
    server = ServerProcess(store_dir=store, name="crash", sync_always=sync_always).start()
    nc = await connect(server.url, settings)
    try:
        await ensure_streams(nc.jetstream(), settings)
        publisher = Publisher(nc, timeout=0.5, attempts=2)
        read_back = publisher._read_back
        read_backs = collections.Counter()

        async def counting_read_back(last):
            found = await read_back(last)
            read_backs["found" if found else "absent"] += 1
            return found

        publisher._read_back = counting_read_back  # observe that in-flight publishes were resolved by read-back
        ledger = Ledger()
        errors: collections.Counter[str] = collections.Counter()
        kills = 0

        async def writer(w: int) -> None:
            flt = f"evt.t.crash.w{w}.*"
            head = 0
            for n in range(EVENTS):
                out, _ = probe_event("t", "crash", f"w{w}", writer=w, n=n, version=n + 1)
                head = await publish_until_known(nc, publisher, ledger, errors, out, Expectation(flt, head))

        async def killer() -> None:
            nonlocal server, kills
            for threshold in KILL_AT:
                while len(ledger.acked) < threshold:
                    await asyncio.sleep(0.005)
                server.kill()  # SIGKILL with publishes in flight
                kills += 1
                await asyncio.sleep(0.1)  # answers already in the client's socket buffer are still read
                acked_before = len(ledger.acked)
                await asyncio.sleep(DOWN)
                assert len(ledger.acked) == acked_before, "acks arrived while the server was down"
                server = await asyncio.to_thread(
                    ServerProcess(store_dir=store, port=server.port, monitor_port=server.monitor_port,
                                  name="crash", sync_always=sync_always).start
                )

        started = time.monotonic()
        await asyncio.gather(killer(), *(writer(w) for w in range(WRITERS)))
        elapsed = time.monotonic() - started

        stored = await stored_msgs(nc)
        summary = ledger.check([m.msg_id for m in stored])
        assert kills == len(KILL_AT)
        # publishes were in flight at each kill: their answers never came and they had to be read back
        # (whether some also ended unknown and were retried depends on timing; both are covered above)
        assert read_backs["absent"] + read_backs["found"] > 0, (errors, read_backs)
        assert summary["acked"] == summary["stored"] == summary["attempted"] == WRITERS * EVENTS
        assert all(v == list(range(1, EVENTS + 1)) for v in versions_by_aggregate(stored).values())
        print(f"T4[{'sync_always' if sync_always else 'default'}]: {summary}, "
              f"errors while down {dict(errors)}, read-backs {dict(read_backs)}, {elapsed:.1f}s")
    finally:
        await nc.close()
        server.stop()
