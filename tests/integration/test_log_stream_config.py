"""T10, T11: the event stream never drops an event silently; production settings are what they claim.

T10: on EVT, deleting a message or purging is refused by the server; reaching
the configured byte limit rejects the next publish (a PublishError the writer
sees) and keeps every earlier event — never an eviction. `ensure_streams` is
idempotent, and a stream whose config drifted is reported (StreamDrift) and
left as found.

T11: a server started with `sync_always` reports it in /varz, and the
production stream set (replicas=3) is R3 throughout.
"""

from __future__ import annotations

import pytest
from nats.js.api import DiscardPolicy
from nats.js.errors import APIError

from bus.connection import connect
from bus.errors import ConcurrencyConflict, PublishError, StreamDrift
from bus.publish import Publisher
from bus.server import ServerProcess
from bus.settings import Settings
from bus.streams import ensure_streams, expected_streams
from tests.integration.conftest import Ledger, probe_event, stored_msgs


async def test_evt_refuses_delete_and_purge(nc):
    publisher = Publisher(nc)
    for n in range(3):
        await publisher.publish(probe_event("t", "cfg", "a1", writer=0, n=n, version=n + 1)[0])
    js = nc.jetstream()
    with pytest.raises(APIError):
        await js.delete_msg("EVT", 2)
    with pytest.raises(APIError):
        await js.purge_stream("EVT")
    with pytest.raises(APIError):
        await js.purge_stream("EVT", subject="evt.t.cfg.a1.*")
    info = await js.stream_info("EVT")
    assert (info.state.first_seq, info.state.last_seq, info.state.messages) == (1, 3, 3)


async def test_reaching_the_byte_limit_rejects_the_publish_and_keeps_every_event(nats_server):
    settings = Settings(evt_max_bytes=20_000)
    nc = await connect(nats_server.url, settings)
    try:
        await ensure_streams(nc.jetstream(), settings)
        publisher = Publisher(nc)
        ledger = Ledger()
        rejected: PublishError | None = None
        for n in range(1000):
            out, _ = probe_event("t", "full", f"a{n % 7}", writer=0, n=n, version=1)
            ledger.attempt(out.msg_id)
            try:
                await publisher.publish(out)
            except PublishError as exc:
                rejected = exc
                break
            ledger.ack(out.msg_id)
        assert rejected is not None and not isinstance(rejected, ConcurrencyConflict), "the limit was never hit"
        assert "maximum bytes" in str(rejected), str(rejected)
        # a second try is rejected the same way: nothing was evicted to make room
        with pytest.raises(PublishError):
            await publisher.publish(probe_event("t", "full", "late", writer=1, n=0, version=1)[0])
        stored = await stored_msgs(nc)
        summary = ledger.check([m.msg_id for m in stored])
        assert summary["acked"] == summary["stored"] > 10
        info = await nc.jetstream().stream_info("EVT")
        assert info.state.first_seq == 1 and info.state.messages == summary["acked"]
        assert info.state.bytes <= settings.evt_max_bytes
        print(f"T10: limit {settings.evt_max_bytes} B, {summary['acked']} events kept, rejected with: {rejected}")
    finally:
        await nc.close()


async def test_ensure_streams_is_idempotent_and_reports_drift_without_changing_anything(nc, settings):
    js = nc.jetstream()
    assert await ensure_streams(js, settings) == []  # the fixture created them already
    assert await ensure_streams(js, settings) == []
    cmd = (await js.stream_info("CMD")).config
    cmd.max_age = 3600.0
    await js.update_stream(cmd)
    with pytest.raises(StreamDrift) as drift:
        await ensure_streams(js, settings)
    assert drift.value.stream == "CMD" and set(drift.value.differences) == {"max_age"}
    assert "max_age" in str(drift.value)
    assert (await js.stream_info("CMD")).config.max_age == 3600.0, "drift is reported, never reverted"

    evt = (await js.stream_info("EVT")).config
    assert evt.deny_delete and evt.deny_purge and evt.allow_atomic and evt.discard == DiscardPolicy.NEW
    assert evt.max_age == 0 and evt.max_msgs == -1


def test_a_sync_always_server_reports_it_in_varz(tmp_path):
    server = ServerProcess(store_dir=tmp_path / "store", name="t11", sync_always=True).start()
    try:
        assert server.varz()["jetstream"]["config"]["sync_always"] is True
    finally:
        server.stop()


def test_a_default_server_does_not_claim_sync_always(nats_server):
    assert not nats_server.varz()["jetstream"]["config"].get("sync_always", False)


def test_production_streams_are_r3():
    streams = expected_streams(Settings(replicas=3))
    assert {s.name for s in streams} == {"CMD", "EVT", "USAGE", "LOG", "DLQ", "EXEC"}
    assert all(s.num_replicas == 3 for s in streams)
