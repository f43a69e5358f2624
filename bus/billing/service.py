"""The billing consumer as a service of a larger process (`tessera up`) or of its own (`tessera billing`).

`BillingService(nc, settings).start()` runs `BillingConsumer.run` in a task;
`stop()` sets its stop event and waits for the batch in hand to be written
(or not at all): the consumer never stops between a write and its position,
because they are one atomic write.
"""

from __future__ import annotations

import asyncio
import contextlib

from bus.billing.consumer import BillingConsumer
from bus.billing.settings import BillingSettings


class BillingService:
    def __init__(self, nc, settings: BillingSettings | None = None) -> None:
        self.consumer = BillingConsumer(nc, settings or BillingSettings.load())
        self._stop = asyncio.Event()
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        self._stop.clear()
        self._task = asyncio.create_task(self.consumer.run(self._stop), name="billing")

    async def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, timeout)
            except TimeoutError:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
