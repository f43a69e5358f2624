"""Job logs on LOG: lines written by an executor are read back in order, per job, and followed live."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from bus.logs import line_id, publish_line, publish_lines, read_logs
from schemas.logs import LogLine


def line(job: str, n: int, stream: str = "stdout", attempt: int = 1) -> LogLine:
    return LogLine(job_id=job, attempt=attempt, stream=stream, line=f"line {n}", time=datetime.now(UTC))


async def collect(nc, tenant, job, **kw) -> list[tuple[int, LogLine]]:
    return [item async for item in read_logs(nc, tenant, job, **kw)]


async def test_lines_of_every_task_come_back_in_order_and_only_for_their_job_and_tenant(nc):
    js = nc.jetstream()
    await publish_line(js, "acme", "main", line("j1", 0))
    await publish_line(js, "acme", "prep", line("j1", 1, "stderr"))
    await publish_line(js, "acme", "main", line("j2", 9))
    await publish_line(js, "beta", "main", line("j1", 7))
    await publish_lines(nc, "acme", "main", [(line("j1", n), line_id("j1", 1, "stdout", n)) for n in range(2, 2500)])
    got = await collect(nc, "acme", "j1")
    assert [g.line for _, g in got] == [f"line {n}" for n in range(2500)]
    assert [s for s, _ in got] == sorted(s for s, _ in got)
    assert got[1][1].stream == "stderr"
    assert await collect(nc, "acme", "nope") == []


async def test_a_resent_line_with_the_same_id_is_stored_once(nc):
    first = line("j3", 0)
    await publish_line(nc.jetstream(), "acme", "main", first, msg_id=line_id("j3", 1, "stdout", 0))
    await publish_line(nc.jetstream(), "acme", "main", first, msg_id=line_id("j3", 1, "stdout", 0))
    assert len(await collect(nc, "acme", "j3")) == 1


async def test_follow_yields_stored_then_new_lines_until_stopped(nc):
    js = nc.jetstream()
    await publish_line(js, "acme", "main", line("j4", 0))
    stop = asyncio.Event()
    seen: list[str] = []

    async def reader():
        async for _, got in read_logs(nc, "acme", "j4", follow=True, stop=stop):
            seen.append(got.line)

    task = asyncio.create_task(reader())
    await asyncio.sleep(0.2)
    for n in range(1, 4):
        await publish_line(js, "acme", "main", line("j4", n))
    for _ in range(100):
        if len(seen) == 4:
            break
        await asyncio.sleep(0.02)
    stop.set()
    await asyncio.wait_for(task, 2.0)
    assert seen == ["line 0", "line 1", "line 2", "line 3"]
