"""A job's log lines from the LOG stream (bus.logs), as pages or as a live stream.

- `read(services, job, after, limit)`: the stored lines after sequence `after`,
  at most `limit`, and whether more exist (the page's last `seq` is the next
  cursor).
- `follow(services, job, after)`: stored lines, then new ones, as SSE items
  (`event: log`), until the job has ended (its read-model status is terminal,
  plus `GRACE` seconds for lines still in flight) or the gateway stops.
The job was found in the caller's tenant before either is called.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from bus.logs import read_logs
from gateway.http.services import Services
from gateway.http.sse import Item
from projections.registry import JobView
from schemas.logs import LogLine

TERMINAL = frozenset({"succeeded", "failed", "cancelled", "preempted", "rejected"})
GRACE = 1.0
POLL = 0.25


def line(seq: int, item: LogLine, task: str | None) -> dict:
    return {"seq": seq, "task": task, "attempt": item.attempt, "stream": item.stream, "line": item.line,
            "time": item.time}


async def read(s: Services, job: JobView, *, after: int, limit: int) -> tuple[list[dict], bool]:
    out: list[dict] = []
    async for seq, item in read_logs(s.nc, job.tenant, job.id):
        if seq <= after:
            continue
        if len(out) == limit:
            return out, True
        out.append(line(seq, item, job.task))
    return out, False


async def _ended(s: Services, job_id: str, stop: asyncio.Event) -> None:
    while True:
        view = s.registry.jobs.get(job_id)
        if view is None or view.status in TERMINAL or (s.stopping is not None and s.stopping.is_set()):
            break
        await asyncio.sleep(POLL)
    await asyncio.sleep(GRACE)
    stop.set()


async def follow(s: Services, job: JobView, *, after: int) -> AsyncIterator[Item]:
    stop = asyncio.Event()
    watcher = asyncio.create_task(_ended(s, job.id, stop))
    try:
        async for seq, item in read_logs(s.nc, job.tenant, job.id, follow=True, stop=stop):
            if seq > after:
                yield "log", line(seq, item, job.task), seq
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
