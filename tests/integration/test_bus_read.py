"""Reading the log: one aggregate without a scan, replay from a sequence or a time, live follow."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

from bus import direct
from bus.publish import Expectation, OutMsg, Publisher
from bus.read import follow, load_aggregate, replay


def msg(subject: str, n: int) -> OutMsg:
    return OutMsg(subject=subject, data=str(n).encode(), msg_id=f"{subject}-{n}")


async def test_loading_an_aggregate_reads_only_its_subjects_in_order_across_pages(nc):
    publisher = Publisher(nc)
    mine = [msg(f"evt.acme.job.j1.e{n % 3}", n) for n in range(2_500)]  # more than one Direct Get page
    noise = [msg(f"evt.acme.job.j2.e{n % 3}", n) for n in range(500)]
    await publisher.publish_many(mine + noise)

    loaded = await load_aggregate(nc, "acme", "job", "j1")

    assert [m.data for m in loaded] == [m.data for m in mine]
    assert all(m.subject.startswith("evt.acme.job.j1.") for m in loaded)
    assert [m.seq for m in loaded] == sorted(m.seq for m in loaded)


async def test_a_missing_aggregate_loads_empty_and_has_no_head(nc):
    assert await load_aggregate(nc, "acme", "job", "nope") == []
    assert await direct.last_for(nc, "EVT", "evt.acme.job.nope.*") is None


async def test_replay_from_a_sequence_resumes_exactly_after_the_last_handled(nc):
    await Publisher(nc).publish_many([msg("evt.acme.job.j1.e", n) for n in range(300)])
    first: list[int] = []
    last = await replay(nc, "EVT", lambda m: first.append(m.seq), subject="evt.>")
    assert first == list(range(1, 301)) and last == 300

    await Publisher(nc).publish_many([msg("evt.acme.job.j1.e", n) for n in range(300, 350)])
    rest: list[int] = []
    assert await replay(nc, "EVT", lambda m: rest.append(m.seq), start_seq=last + 1) == 350
    assert rest == list(range(301, 351))


async def test_replay_from_a_time_starts_at_the_first_message_at_or_after_it(nc):
    await Publisher(nc).publish_many([msg("evt.acme.job.old.e", n) for n in range(20)])
    await asyncio.sleep(0.05)
    cut = datetime.now(timezone.utc)
    await asyncio.sleep(0.05)
    await Publisher(nc).publish_many([msg("evt.acme.job.new.e", n) for n in range(30)])

    seen: list[str] = []
    await replay(nc, "EVT", lambda m: seen.append(m.subject), start_time=cut)
    assert seen == ["evt.acme.job.new.e"] * 30


async def test_replay_of_an_empty_stream_handles_nothing(nc):
    assert await replay(nc, "USAGE", lambda m: None) == 0


async def test_follow_yields_the_backlog_then_new_messages_as_they_arrive(nc):
    publisher = Publisher(nc)
    await publisher.publish_many([msg("evt.acme.job.j1.e", n) for n in range(5)])
    seen: list[bytes] = []

    async def consume():
        async for stored in follow(nc, "EVT", subject="evt.acme.>"):
            seen.append(stored.data)
            if len(seen) == 8:
                return

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.3)
    for n in range(5, 8):
        await publisher.publish(msg("evt.acme.job.j1.e", n))
    await asyncio.wait_for(task, 10)
    assert seen == [str(n).encode() for n in range(8)]


async def test_an_aggregate_head_moves_with_each_expected_append(nc):
    publisher = Publisher(nc)
    flt = "evt.acme.job.j9.*"
    head = 0
    for n in range(5):
        ack = await publisher.publish(msg(f"evt.acme.job.j9.e{n}", n), Expectation(flt, head))
        head = ack.seq
    assert (await direct.last_for(nc, "EVT", flt)).seq == head
