"""Reports of many simulated runs, sent together: pipelined batches on CMD, each command acknowledged.

`put(tenant, command, id parts)` queues a report and returns a future that is
done once its batch is stored (a launch awaits its `starting` report before
the executor acks the LaunchJob; timer-driven exits are not awaited). A batch
that fails is retried (same ids: JetStream drops what already landed); after
`attempts` tries its futures fail and the error is logged.
"""

from __future__ import annotations

import asyncio
import logging

from adapters.backend import Reporter
from schemas import Command

log = logging.getLogger("tessera.simulator")


class Outbox:
    def __init__(self, reporter: Reporter, *, batch: int = 1000, attempts: int = 5) -> None:
        self.reporter, self.batch, self.attempts = reporter, batch, attempts
        self.sent = 0
        self._queue: asyncio.Queue[tuple[str, Command, tuple, asyncio.Future]] = asyncio.Queue()
        self._task: asyncio.Task | None = None
        self._busy = False

    def put(self, tenant: str, command: Command, *id_parts: str | int) -> asyncio.Future:
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._run())
        done = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((tenant, command, id_parts, done))
        return done

    async def close(self) -> None:
        if self._task is not None:
            while not self._queue.empty() or self._busy:
                await asyncio.sleep(0.01)
            self._task.cancel()

    async def _run(self) -> None:
        while True:
            items = [await self._queue.get()]
            self._busy = True
            while len(items) < self.batch and not self._queue.empty():
                items.append(self._queue.get_nowait())
            error: Exception | None = None
            for attempt in range(self.attempts):
                try:
                    await self.reporter.send_many([(t, c, p) for t, c, p, _ in items])
                    error = None
                    break
                except Exception as exc:  # retried with the same ids; surfaced on the futures at the end
                    error = exc
                    await asyncio.sleep(0.2 * (attempt + 1))
            if error is not None:
                log.error("simulator: %s reports not sent: %s", len(items), error)
            else:
                self.sent += len(items)
            for *_, done in items:
                if not done.done():
                    done.set_exception(error) if error is not None else done.set_result(None)
                    if error is not None:
                        done.exception()  # retrieved: an unawaited exit report must not warn at exit
            self._busy = False
