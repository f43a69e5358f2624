"""Compare-and-set on JetStream KV with group commit: the changes waiting on one key share one write.

`Combiner(kv).change(key, fn)`: `fn(current) -> new` (a pure function of the
key's JSON value; it may raise to refuse). Changes to one key are applied in
arrival order by one drain task per key: it takes every change queued so far,
applies them one after the other to the current value (a refused change
leaves the value as it was and gets its exception), and writes the result
once with `update(last=revision)`. A conflict (another proxy wrote in between)
re-reads and re-applies the whole batch, so every change is checked against
the value it is written over: the guarantees are those of one CAS per change,
at one KV round trip per batch instead of two per change.

The value and revision this proxy last wrote are remembered per key and
written against first (no read while this proxy is the only writer; a stale
revision is refused by the server, never applied). A caller cancelled before
its batch was written is left out of it; after that its change stands.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import orjson
from nats.js.errors import KeyDeletedError, KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

TRIES = 50


class Combiner:
    def __init__(self, kv: KeyValue) -> None:
        self.kv = kv
        self._pending: dict[str, list[tuple[Callable[[dict], dict], asyncio.Future]]] = {}
        self._known: dict[str, tuple[dict, int]] = {}

    async def change(self, key: str, fn: Callable[[dict], dict]) -> dict:
        future = asyncio.get_running_loop().create_future()
        queue = self._pending.get(key)
        if queue is None:
            queue = self._pending[key] = []
            asyncio.ensure_future(self._drain(key))  # starts next iteration: this one's arrivals join the batch
        queue.append((fn, future))
        return await future

    async def read(self, key: str) -> dict:
        return (await read(self.kv, key))[0]

    async def _drain(self, key: str) -> None:
        while batch := [item for item in self._pending.get(key, ()) if not item[1].done()]:
            self._pending[key] = []
            try:
                await self._commit(key, batch)
            except BaseException as exc:  # noqa: BLE001 - the callers get it, the drain goes on
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc if isinstance(exc, Exception) else RuntimeError(repr(exc)))
        self._pending.pop(key, None)

    async def _commit(self, key: str, batch: list) -> None:
        cached = self._known.get(key)
        for attempt in range(TRIES):
            batch = [item for item in batch if not item[1].done()]  # callers gone before the write: left out
            if not batch:
                return
            if cached is not None:
                (current, revision), cached = cached, None
            else:
                current, revision = await read(self.kv, key)
            value, results = current, []
            for fn, future in batch:
                try:
                    value = fn(value)
                    results.append((future, value, None))
                except Exception as exc:  # noqa: BLE001 - a refusal: this change only
                    results.append((future, None, exc))
            if value is not current:
                try:
                    written = await self.kv.update(key, orjson.dumps(value), last=revision)
                except KeyWrongLastSequenceError:
                    self._known.pop(key, None)
                    if attempt:
                        await asyncio.sleep(0.001 * min(attempt, 10))
                    continue
                if len(self._known) > 10_000:
                    self._known.clear()
                self._known[key] = (value, written)
            for future, new, exc in results:
                if not future.done():
                    future.set_exception(exc) if exc is not None else future.set_result(new)
            return
        raise RuntimeError(f"{key}: {TRIES} compare-and-set conflicts in a row")


async def read(kv: KeyValue, key: str) -> tuple[dict, int]:
    try:
        entry = await kv.get(key)
    except KeyDeletedError as exc:
        return {}, exc.entry.revision if exc.entry else 0
    except KeyNotFoundError:
        return {}, 0
    return (orjson.loads(entry.value) if entry.value else {}), entry.revision
