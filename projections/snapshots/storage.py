"""Where snapshots live and when they are taken.

- `SnapshotStore`: a JetStream Object Store bucket `tessera_snapshots`
  (created on first use; file storage; the bus's replicas), shared by gateway
  replicas: one object per projection, `<namespace>/<name>` (namespace
  `live` for the running read models, `asof-<seq>` for a past state built by
  `tessera replay --until-seq`). A put replaces the object as a whole (a
  reader gets the old or the new one, digest-checked).
- `restore_runner(store, runner)`: restores the runner's snapshottable
  projections; the others (trackers like the gateway's outcomes) resume
  from the lowest restored position, and the restored objects are moved out
  of the cyclic collector's reach (`gc.freeze`: they live as long as the
  process). `start_from_snapshots` does the same
  but never fails a start: any error means a replay from sequence 1.
- `Snapshotter`: saves every `every_events` events or `every_s` seconds
  (when the position moved), and once more when stopped. Capture starts on
  the event loop between batches (each model at a batch boundary, never half
  an event) by forking a child that pickles the models (forked.py): the loop
  goes on at once; the upload is awaited after the child is done.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import io
import logging
import time
from collections.abc import Sequence
from typing import Any

from nats.js.api import ObjectStoreConfig, StorageType
from nats.js.errors import BucketNotFoundError, NotFoundError, ObjectNotFoundError

from projections.snapshots.forked import ForkedCapture
from projections.snapshots.format import (
    header,
    restore,
    snapshottable,
    stream_id,
)

log = logging.getLogger("tessera.snapshots")
BUCKET = "tessera_snapshots"
LIVE = "live"


class SnapshotStore:
    """Snapshots in a JetStream Object Store bucket (created on first use)."""

    def __init__(self, js: Any, *, bucket: str = BUCKET, replicas: int = 1, stream: str = "EVT") -> None:
        self.js = js
        self.bucket = bucket
        self.replicas = replicas
        self.stream = stream
        self._store = None

    async def _obj(self):
        if self._store is None:
            try:
                self._store = await self.js.object_store(self.bucket)
            except BucketNotFoundError:
                self._store = await self.js.create_object_store(self.bucket, config=ObjectStoreConfig(
                    bucket=self.bucket, storage=StorageType.FILE, replicas=self.replicas,
                    description="Tessera read-model snapshots (projections.snapshots)"))
        return self._store

    async def log(self) -> tuple[str, int]:
        """(stream id, last sequence) of the log the snapshots belong to."""
        info = await self.js.stream_info(self.stream)
        return stream_id(info), info.state.last_seq

    async def put(self, key: str, blob: bytes) -> None:
        await (await self._obj()).put(key, blob)

    async def get(self, key: str) -> bytes | None:
        out = io.BytesIO()
        try:
            await (await self._obj()).get(key, writeinto=out)
        except (ObjectNotFoundError, NotFoundError):
            return None
        return out.getvalue()

    async def save(self, projections: Sequence[Any], namespace: str = LIVE, *,
                   covered: int | None = None) -> dict[str, int]:
        """Capture and store each snapshottable projection; their positions by name.

        `covered`: the runner's position (see `capture`); captured once for all, before any await.
        """
        stream, _ = await self.log()
        blobs = await ForkedCapture.start([p for p in projections if snapshottable(p)], stream, covered).result()
        for name, blob in blobs.items():
            await self.put(f"{namespace}/{name}", blob)
        return {name: int(header(blob)["position"]) for name, blob in blobs.items()}

    async def load(self, projections: Sequence[Any], namespace: str = LIVE, *,
                   until: int | None = None) -> int:
        """Restore each snapshottable projection; the position every one of them has reached (0: none).

        With `until`, a snapshot past it is not used (a past state is built from zero or an older one).
        """
        stream, end = await self.log()
        end = end if until is None else min(end, until)
        positions = []
        for p in projections:
            if not snapshottable(p):
                continue
            blob = await self.get(f"{namespace}/{p.name}")
            position = restore(p, blob, stream, end) if blob is not None else None
            positions.append(position or 0)
        return min(positions, default=0)


async def start_from_snapshots(store: SnapshotStore, runner: Any) -> int:
    """`restore_runner`, but a failure only costs speed: logged, and the runner starts from zero."""
    try:
        return await restore_runner(store, runner)
    except Exception as exc:  # noqa: BLE001 - any failure: from zero, as without snapshots
        log.warning("snapshots not loaded (%s: %s); replaying the log from sequence 1", type(exc).__name__, exc)
        for p in runner.projections:
            if snapshottable(p):
                p.reset()
        return 0


async def restore_runner(store: SnapshotStore, runner: Any, namespace: str = LIVE, *, until: int | None = None) -> int:
    """Restore the runner's projections from snapshots; the others (trackers) resume from the same point."""
    start = await store.load(runner.projections, namespace, until=until)
    if start:
        runner.resume_from(start)
        gc.freeze()  # the restored models live as long as the process: no collection needs to walk them again
    return start


class Snapshotter:
    """Saves the projections every `every_events` events or `every_s` seconds while `run(stop)` runs."""

    def __init__(self, store: SnapshotStore, runner: Any, *, every_events: int = 100_000, every_s: float = 300.0,
                 check_s: float = 1.0) -> None:
        self.store = store
        self.runner = runner
        self.every_events = every_events
        self.every_s = every_s
        self.check_s = check_s
        self.saved_at = runner.position()
        self.saves = 0

    async def run(self, stop: asyncio.Event) -> None:
        last = time.monotonic()
        while not stop.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), self.check_s)
            moved = self.runner.position() - self.saved_at
            if moved > 0 and (moved >= self.every_events or time.monotonic() - last >= self.every_s):
                try:
                    await self.save()
                except Exception as exc:  # noqa: BLE001 - snapshots are an optimisation: log, try again next time
                    log.warning("snapshot failed (%s: %s)", type(exc).__name__, exc)
                last = time.monotonic()
        if self.runner.position() > self.saved_at:  # stopping: the next start begins here
            with contextlib.suppress(Exception):
                await self.save()

    async def save(self) -> None:
        position = self.runner.position()
        await self.store.save(self.runner.projections, covered=position)
        self.saved_at, self.saves = position, self.saves + 1
