"""A run's stdout/stderr lines to LOG, in the order they were read, pipelined in batches.

`put(stream, text)` never blocks the process's pipes; the shipper publishes
what has accumulated (up to `batch` lines per round) and waits for every
PubAck. Each line's `Nats-Msg-Id` is derived from (job, attempt, stream, n),
so a retried batch is dropped as duplicates, never stored twice. `close()`
returns once everything put before it is stored: the executor reports a run's
exit only after its last line is readable. A batch that keeps failing
(`attempts` tries) is dropped with a warning: logs must not hold a job's
report hostage.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from bus.logs import line_id, publish_lines
from schemas.logs import LogLine

log = logging.getLogger("tessera.local")
MAX_LINE = 64 * 1024  # characters kept of one line; the rest is cut (LOG messages stay far below 1 MB)


class LogShipper:
    def __init__(self, nc, tenant: str, task: str, job_id: str, attempt: int, *, batch: int = 500,
                 attempts: int = 5) -> None:
        self.nc, self.tenant, self.task = nc, tenant, task
        self.job_id, self.attempt = job_id, attempt
        self.batch, self.attempts = batch, attempts
        self.counts = {"stdout": 0, "stderr": 0}
        self.shipped = 0
        self._queue: asyncio.Queue[tuple[LogLine, str] | None] = asyncio.Queue()
        self._task = asyncio.ensure_future(self._run())

    def put(self, stream: str, text: str) -> None:
        if len(text) > MAX_LINE:
            text = text[:MAX_LINE] + " [line cut]"
        n = self.counts[stream]
        self.counts[stream] = n + 1
        line = LogLine(job_id=self.job_id, attempt=self.attempt, stream=stream, line=text,  # type: ignore[arg-type]
                       time=datetime.now(UTC))
        self._queue.put_nowait((line, line_id(self.job_id, self.attempt, stream, n)))

    async def close(self) -> None:
        self._queue.put_nowait(None)
        await self._task

    async def _run(self) -> None:
        done = False
        while not done:
            items = [await self._queue.get()]
            while len(items) < self.batch and not self._queue.empty():
                items.append(self._queue.get_nowait())
            done = None in items
            lines = [item for item in items if item is not None]
            if lines:
                await self._ship(lines)

    async def _ship(self, lines: list[tuple[LogLine, str]]) -> None:
        for attempt in range(self.attempts):
            try:
                await publish_lines(self.nc, self.tenant, self.task, lines)
                self.shipped += len(lines)
                return
            except Exception as exc:  # the run goes on; its lines are best effort after retries
                log.warning("job %s: log batch failed (try %s): %s", self.job_id, attempt + 1, exc)
                await asyncio.sleep(0.2 * (attempt + 1))
        log.error("job %s attempt %s: dropped %s log lines", self.job_id, self.attempt, len(lines))
