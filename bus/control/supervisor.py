"""Supervised background tasks of the control plane: restart on a crash, timers, one stop for all.

`spawn(name, run)` runs `run()` in a task; if it raises, the error is logged
with its traceback and `run()` is called again after `restart_delay` (a fresh
component: the plane's factories rebuild a reactor's view from the log), until
`stop()`. It never swallows an error silently and never acks anything itself:
a component that keeps failing keeps logging, visibly, while the rest runs.
`every(seconds, job)` calls `job()` every `seconds` until `stop()`.
`stop()` cancels what is still running and waits for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("tessera.control")


class Supervisor:
    def __init__(self, *, restart_delay: float = 1.0) -> None:
        self.restart_delay = restart_delay
        self.stopping = asyncio.Event()
        self.restarts = 0
        self._tasks: list[asyncio.Task] = []

    def spawn(self, name: str, run: Callable[[], Awaitable[None]]) -> None:
        async def supervised() -> None:
            while not self.stopping.is_set():
                try:
                    await run()
                    return
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("control plane: %s crashed; restarting in %ss", name, self.restart_delay)
                    self.restarts += 1
                    await asyncio.sleep(self.restart_delay)

        self._tasks.append(asyncio.create_task(supervised(), name=f"control-{name}"))

    def every(self, name: str, seconds: float, job: Callable[[], Awaitable[None]]) -> None:
        async def timer() -> None:
            while not self.stopping.is_set():
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self.stopping.wait(), seconds)
                if not self.stopping.is_set():
                    await job()

        self.spawn(name, timer)

    async def stop(self) -> None:
        self.stopping.set()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
