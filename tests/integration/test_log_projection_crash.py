"""T6: a projection killed between storing its effect and acking: redeliveries absorbed.

The toy read model (conftest.CountsProjection: events and amounts per
aggregate in SQLite) stores its effect and the applied stream sequence in one
transaction, and a durable pull consumer (bus.consumer.Consumer) feeds it.

- In process: after 2% of the commits (seeded) the handler raises before the
  ack, as if the process died there: the consumer naks, JetStream redelivers,
  the projection sees a sequence at or below its position and skips it.
- Real kill: the consumer runs in a child process that SIGKILLs itself right
  after a commit (at a seeded random message), over and over; the parent
  restarts it until the stream is consumed. The unacked message comes back after
  `ack_wait` to the next incarnation, which skips it. `max_ack_pending=1`
  because a single tracking position is only sound when nothing newer is
  applied before an unacked message comes back (see CountsProjection).

Both: 10,000 events; redeliveries observed (> 0) and absorbed (each redelivery
of a committed message skipped); read model = fold(events); nothing dead-lettered.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
import time
from pathlib import Path

import pytest

from bus.connection import connect
from bus.consumer import Consumer, ConsumerSpec
from bus.settings import Settings
from tests.integration.conftest import CountsProjection, fold_counts, publish_counted_events, stored_msgs

EVENTS = 10_000
ROOT = Path(__file__).resolve().parents[2]


class Crash(Exception):
    """The process 'dies' after the commit and before the ack."""


async def wait_consumed(nc, durable: str, projection: CountsProjection, last_seq: int, timeout: float = 60) -> None:
    js = nc.jetstream()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = await js.consumer_info("EVT", durable)
        if projection.position() == last_seq and info.num_pending == 0 and info.num_ack_pending == 0:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{durable} did not consume the stream: position {projection.position()} of {last_seq}")


async def test_handler_dying_after_commit_is_absorbed_in_process(nc, tmp_path):
    await publish_counted_events(nc, EVENTS)
    last_seq = (await nc.jetstream().stream_info("EVT")).state.last_seq
    projection = CountsProjection(tmp_path / "counts.db")
    rng = random.Random(6)
    crashes, skipped = 0, 0

    async def handle(delivery) -> None:
        nonlocal crashes, skipped
        if not projection.apply(delivery.seq, delivery.data):
            skipped += 1
            return
        if rng.random() < 0.02:
            crashes += 1
            raise Crash(f"killed after storing seq {delivery.seq}")

    spec = ConsumerSpec(stream="EVT", durable="counts", filter_subjects=("evt.t.count.>",), backoff=(0.05,))
    consumer = Consumer(nc, spec, handle)
    await consumer.ensure()
    started = time.monotonic()
    task = asyncio.create_task(consumer.run())
    try:
        await wait_consumed(nc, "counts", projection, last_seq)
    finally:
        await consumer.stop()
        await task
    elapsed = time.monotonic() - started

    events = await stored_msgs(nc, subject="evt.t.count.>")
    assert len(events) == EVENTS
    assert crashes > 0 and consumer.stats.redelivered >= crashes
    assert skipped == crashes, "every redelivery of a committed message is skipped, nothing else is"
    assert consumer.stats.dead_lettered == 0
    assert projection.rows() == fold_counts(events)
    print(f"T6 in-process: {EVENTS} events, {crashes} crashes, stats {consumer.stats}, {elapsed:.1f}s")


@pytest.mark.slow
async def test_consumer_process_sigkilled_after_commit_is_absorbed(nats_server, nc, tmp_path):
    await publish_counted_events(nc, EVENTS)
    last_seq = (await nc.jetstream().stream_info("EVT")).state.last_seq
    db, skips = tmp_path / "counts.db", tmp_path / "skips.log"
    rng = random.Random(66)
    kills, started = 0, time.monotonic()
    while True:
        crash_at = rng.randrange(300, 2500)
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.integration.test_log_projection_crash",
            nats_server.url, str(db), str(skips), str(last_seq), str(crash_at), cwd=ROOT,
        )
        code = await asyncio.wait_for(child.wait(), timeout=60)
        if code == 0:
            break
        assert code == -signal.SIGKILL, f"consumer child exited with {code}"
        kills += 1
        assert kills < 20
    elapsed = time.monotonic() - started

    projection = CountsProjection(db)
    events = await stored_msgs(nc, subject="evt.t.count.>")
    info = await nc.jetstream().consumer_info("EVT", "counts-child")
    redeliveries = [int(line.split()[1]) for line in skips.read_text().splitlines()] if skips.exists() else []
    # each kill left one stored-but-unacked message; it came back (delivered > 1) and was skipped
    assert kills > 0 and len(redeliveries) == kills and all(d > 1 for d in redeliveries), (kills, redeliveries)
    assert info.num_ack_pending == 0 and info.num_pending == 0
    assert projection.position() == last_seq
    assert projection.rows() == fold_counts(events)
    print(f"T6 SIGKILL: {EVENTS} events, {kills} kills, {len(redeliveries)} redeliveries skipped, {elapsed:.1f}s")


async def _child(url: str, db: str, skips: str, last_seq: int, crash_at: int) -> None:
    """One incarnation of the consumer: apply, and SIGKILL itself after the `crash_at`-th commit."""
    nc = await connect(url, Settings())
    projection = CountsProjection(db)
    applied = 0

    async def handle(delivery) -> None:
        nonlocal applied
        if not projection.apply(delivery.seq, delivery.data):
            with open(skips, "a") as out:
                out.write(f"{delivery.seq} {delivery.delivered}\n")
            return
        applied += 1
        if applied == crash_at and projection.position() < last_seq:
            os.kill(os.getpid(), signal.SIGKILL)  # stored, not acked

    spec = ConsumerSpec(stream="EVT", durable="counts-child", filter_subjects=("evt.t.count.>",),
                        ack_wait=1.0, batch=1, max_ack_pending=1)
    consumer = Consumer(nc, spec, handle, fetch_timeout=0.5)
    task = asyncio.create_task(consumer.run())
    while projection.position() < last_seq:
        await asyncio.sleep(0.05)
    await consumer.stop()
    await task
    await nc.flush()
    await nc.close()


if __name__ == "__main__":
    url_, db_, skips_, last_, crash_ = sys.argv[1:]
    asyncio.run(_child(url_, db_, skips_, int(last_), int(crash_)))
