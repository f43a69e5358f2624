"""Applies decoded batches to a set of projections, one batch in flight at a time, in order.

`start(batch, last)` waits until the previous batch is stored, then starts
applying `batch` in the background and returns: the caller reads and decodes
the next batch meanwhile. `finish(batch, last)` does the same and waits for it.
`done` is the highest `last` (the sequence up to which the caller had taken
messages) whose batch and every batch before it are stored.

Within a batch every projection gets the events of the aggregates it reads,
in stream order: blocking projections (`blocking = True`) in a worker thread,
the others on the event loop (readers there never see a half-applied event),
`SLICE` events at a time so the loop stays responsive during a large batch.
A failing projection is retried with backoff, the same events again (its
tracking makes a repeat a no-op); when the retries are exhausted the error is
raised from the next `start`/`finish`, and `failed` holds the batch that
failed so the caller can keep it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

log = logging.getLogger("tessera.projections")
SLICE = 2000  # events a non-blocking projection applies before the event loop gets a turn


class BatchApplier:
    def __init__(self, projections: Sequence[Any], *, retries: int = 5) -> None:
        self.projections = projections
        self.retries = retries
        self.done = 0
        self.failed: list[tuple[Any, int]] = []
        self._task: asyncio.Task | None = None
        self._batch: list[tuple[Any, int]] = []
        self._last = 0

    @property
    def busy(self) -> bool:
        return self._task is not None

    def bulk(self, on: bool) -> None:
        """A catch-up starts (True) or ends (False): tell the projections that care."""
        for p in self.projections:
            if hasattr(p, "bulk"):
                p.bulk(on)

    async def reset(self) -> None:
        await self.finish([], 0)
        for p in self.projections:
            await (asyncio.to_thread(p.reset) if _blocking(p) else _call(p.reset))
        self.done = 0

    async def start(self, batch: list[tuple[Any, int]], last: int) -> None:
        await self._wait()
        if batch:
            self._batch, self._last = batch, last
            self._task = asyncio.create_task(self._apply(batch))
        else:
            self.done = max(self.done, last)

    async def finish(self, batch: list[tuple[Any, int]], last: int) -> None:
        await self.start(batch, last)
        await self._wait()

    async def _wait(self) -> None:
        task, self._task = self._task, None
        self.failed = []
        if task is None:
            return
        try:
            await task
        except BaseException:
            self.failed = self._batch
            raise
        self.done = max(self.done, self._last)

    async def _apply(self, batch: list[tuple[Any, int]]) -> None:
        parts = [(p, _part(p, batch)) for p in self.projections]
        threads = [asyncio.create_task(self._retrying(p, part)) for p, part in parts if part and _blocking(p)]
        try:
            for p, part in parts:
                if part and not _blocking(p):
                    await self._retrying(p, part)
        finally:
            results = await asyncio.gather(*threads, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result

    async def _retrying(self, projection: Any, part: list[tuple[Any, int]]) -> None:
        for attempt in range(self.retries):
            try:
                if _blocking(projection):
                    await asyncio.to_thread(projection.apply_batch, part)
                    return
                for start in range(0, len(part), SLICE):  # let the loop run (readers, the client) in between
                    projection.apply_batch(part[start:start + SLICE])
                    await asyncio.sleep(0)
                return
            except Exception as exc:  # transient store trouble: the same events again; tracking absorbs repeats
                if attempt == self.retries - 1:
                    raise
                log.warning("%s: batch up to seq %s failed (%s); retrying", projection.name, part[-1][1], exc)
                await asyncio.sleep(min(0.1 * 2**attempt, 5.0))


def _part(projection: Any, batch: list[tuple[Any, int]]) -> list[tuple[Any, int]]:
    wanted = getattr(projection, "aggregates", None)
    return batch if wanted is None else [item for item in batch if item[0].aggregate in wanted]


def _blocking(projection: Any) -> bool:
    return getattr(projection, "blocking", False)


async def _call(fn) -> None:
    fn()
