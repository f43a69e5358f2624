"""Scanning a stored range (bus.scan): every sequence once, in order, through gaps, cuts and slow readers."""

from __future__ import annotations

import asyncio

import pytest

from bus.connection import connect
from bus.publish import OutMsg, Publisher
from bus.scan import scan
from bus.server import ServerProcess
from bus.settings import Settings
from bus.streams import ensure_streams
from tests.integration.toxiproxy import Proxy


def messages(n: int, start: int = 0) -> list[OutMsg]:
    return [OutMsg(f"evt.t{i % 3}.job.j{i}.e", f"payload-{i}".encode() * (1 + i % 7), f"m{i}")
            for i in range(start, start + n)]


class Ledger:
    """What the scan handed over, frame by frame."""

    def __init__(self) -> None:
        self.frames: list[tuple[str, int, bytes]] = []
        self.batches = 0

    def __call__(self, batch) -> None:
        self.frames += batch
        self.batches += 1

    @property
    def seqs(self) -> list[int]:
        return [seq for _, seq, _ in self.frames]


async def consumers(nc) -> int:
    return (await nc.jetstream().stream_info("EVT")).state.consumer_count


async def test_a_scan_hands_over_every_stored_message_once_in_order_with_subject_and_payload(nc):
    sent = messages(5_000)  # several hand-overs
    await Publisher(nc).publish_many(sent)
    got = Ledger()

    assert await scan(nc, "EVT", got) == 5_000

    assert got.seqs == list(range(1, 5_001)) and got.batches > 1
    assert [(s, d) for s, _, d in got.frames] == [(m.subject, m.data) for m in sent]
    assert await consumers(nc) == 0  # the scan's consumer is gone


async def test_a_range_and_a_filter_hand_over_exactly_what_they_name(nc):
    await Publisher(nc).publish_many(messages(3_000))

    part = Ledger()
    assert await scan(nc, "EVT", part, start_seq=1_001, end_seq=2_000) == 2_000
    assert part.seqs == list(range(1_001, 2_001))

    t1 = Ledger()
    assert await scan(nc, "EVT", t1, subject="evt.t1.>") == 2_999
    assert t1.seqs == list(range(2, 3_001, 3)) and {s.split(".")[1] for s, _, _ in t1.frames} == {"t1"}

    none = Ledger()
    assert await scan(nc, "EVT", none, start_seq=2_001, end_seq=2_000) == 0
    assert await scan(nc, "EVT", none, subject="evt.nobody.>") == 0
    assert await scan(nc, "USAGE", none) == 0
    assert none.frames == []


async def test_a_slow_reader_gets_everything_in_order(nc):
    """Hand-overs that take a while (flow control holds the server back) lose nothing."""
    sent = [OutMsg(f"evt.t.job.j{i}.e", bytes(2_000), f"m{i}") for i in range(8_000)]  # 16 MB
    await Publisher(nc).publish_many(sent)
    got = Ledger()

    async def slowly(batch) -> None:
        await asyncio.sleep(0.001)
        got(batch)

    assert await scan(nc, "EVT", slowly) == 8_000
    assert got.seqs == list(range(1, 8_001))


async def test_messages_published_during_a_scan_end_it_at_the_end_it_was_given(nc):
    await Publisher(nc).publish_many(messages(2_000))
    got = Ledger()

    async def publishing(batch) -> None:
        got(batch)
        if got.batches == 1:
            await Publisher(nc).publish_many(messages(500, start=2_000))

    assert await scan(nc, "EVT", publishing, end_seq=2_000) == 2_000
    assert got.seqs == list(range(1, 2_001))


async def test_a_dropped_delivery_and_a_cut_connection_are_resumed_without_a_gap_or_a_repeat(nats_server, settings,
                                                                                           caplog):
    """The proxy drops two deliveries (the consumer's sequence jumps), then cuts every connection mid-scan."""
    proxy = await Proxy(nats_server.port).start()
    nc = await connect(proxy.url, settings)
    try:
        await ensure_streams(nc.jetstream(), settings)
        await Publisher(nc).publish_many([OutMsg(f"evt.t.job.j{i}.e", bytes(2_000), f"m{i}") for i in range(6_000)])
        proxy.drop_sequences = {700, 1_500}
        got, cut = Ledger(), []

        async def cutting(batch) -> None:
            got(batch)
            if got.seqs[-1] >= 2_000 and not cut:
                cut.append(got.seqs[-1])
                await proxy.cut()

        with caplog.at_level("INFO", logger="tessera.bus"):
            assert await scan(nc, "EVT", cutting) == 6_000
        assert got.seqs == list(range(1, 6_001))
        resumed = [r.getMessage() for r in caplog.records if "resuming" in r.getMessage()]
        # a gap and the cut were each resumed (the second drop may hit the first consumer's last deliveries)
        assert any("consumer sequence" in m for m in resumed) and any("connection lost" in m for m in resumed), resumed
    finally:
        await nc.close()
        await proxy.close()


async def test_a_handler_error_ends_the_scan_with_that_error_and_removes_the_consumer(nc):
    await Publisher(nc).publish_many(messages(3_000))

    def failing(batch) -> None:
        raise ValueError("projection refused")

    with pytest.raises(ValueError, match="projection refused"):
        await scan(nc, "EVT", failing)
    assert await consumers(nc) == 0


async def test_a_scan_uses_the_connections_credentials(tmp_path):
    server = ServerProcess(store_dir=tmp_path / "store",
                           extra_config='authorization { users = [ { user: "tessera", password: "pw-1" } ] }').start()
    settings = Settings(nats_user="tessera", nats_password="pw-1")
    nc = await connect(server.url, settings)
    try:
        await ensure_streams(nc.jetstream(), settings)
        await Publisher(nc).publish_many(messages(100))
        got = Ledger()
        assert await scan(nc, "EVT", got) == 100
        assert got.seqs == list(range(1, 101))
    finally:
        await nc.close()
        server.stop()


async def test_a_handler_slower_than_the_stall_timeout_is_not_taken_for_a_silent_server(nc):
    await Publisher(nc).publish_many(messages(300))
    got = Ledger()

    async def slow(batch) -> None:
        await asyncio.sleep(0.3)
        got(batch)

    assert await scan(nc, "EVT", slow, stall_timeout=0.1) == 300
    assert got.seqs == list(range(1, 301))
