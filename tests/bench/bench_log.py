"""Throughput of the log: raw JetStream vs Tessera's publish, OCC, batch, recorder and replay paths.

Run:  .venv/bin/python -m tests.bench.bench_log            (full: 1,000,000-event replay, ~4.5 min on 2 cores)
      .venv/bin/python -m tests.bench.bench_log --quick    (smoke run, 20,000-event replay, ~15 s)
      options: --events N (replay size), --profile (cProfile of publish_many and of replay+decode)

Starts its own nats-server (ServerProcess: temporary store, file storage, default
fsync), provisions the streams with `ensure_streams`, and prints one line per
figure: name, value, unit, and the reference measured in the same run where
there is one (TARGETS.md, "How to report"). The machines are noisy: compare the
ratios, not absolute rates across runs. A benchmark, not a test: nothing here
asserts a timing.

Figures
  1/1b/1c  raw nats-py publish to EVT, 128-byte payloads: js.publish_async (the TARGETS
           reference), with Nats-Msg-Id, and a pipelined nc.publish with one reply callback
  2        raw js.publish awaiting each PubAck
  3        Publisher.publish_many (Nats-Msg-Id on each), vs 1
  4        one writer, one aggregate, Expectation from the previous ack, vs 2
  5r*/5a-c atomic batches: the raw protocol (reference), then Publisher.publish_batch with an
           expectation, x10 and x100, one writer and 16 concurrent writers
  6a/6b    bus.eventstore application recorder in eventsourcing's test_performance and
           test_concurrent_throughput shapes
  7a-d     write N small encoded envelopes (pipelined, with Nats-Msg-Id), then read them
           back: raw ordered consumer (reference), bus.scan (catch-ups' read), bus.scan+decode
All writes go to EVT; 7 replays from the first sequence it wrote, so it counts exactly N.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import os
import platform
import pstats
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import orjson  # noqa: E402

from bus import read, subjects  # noqa: E402
from bus.connection import connect  # noqa: E402
from bus.publish import Expectation, OutMsg, Publisher  # noqa: E402
from bus.server import ServerProcess, find_binary  # noqa: E402
from bus.settings import Settings  # noqa: E402
from bus.streams import ensure_streams  # noqa: E402
from schemas import Command, Envelope, Event, decode, encode  # noqa: E402

PAYLOAD = b"x" * 128
TENANT = "bench"


class BenchTicked(Event):
    TYPE = "tessera.bench.ticked.v1"

    n: int


class BenchTick(Command):
    TYPE = "tessera.bench.tick.v1"


# ----------------------------------------------------------------------------- output

def line(name: str, value: float, unit: str, ref: str = "") -> None:
    text = f"{name:<58} {value:>12,.0f} {unit:<10}"
    print(f"{text} {ref}".rstrip(), flush=True)


def ratio(value: float, reference: float, what: str) -> str:
    return f"{value / reference:.2f}x {what} {reference:,.0f}/s" if reference else "no reference"


# ----------------------------------------------------------------------------- raw references

async def raw_publish_async(nc, n: int, subject: str, msg_id: bool = False) -> float:
    """nats-py js.publish_async, 128-byte messages, 4,000 in flight (its default); msgs/s."""
    js = nc.jetstream(publish_async_max_pending=4000)
    prefix = uuid.uuid4().hex[:8]
    start = time.perf_counter()
    for i in range(n):
        headers = {"Nats-Msg-Id": f"{prefix}-{i}"} if msg_id else None
        await js.publish_async(subject, PAYLOAD, headers=headers)
    await js.publish_async_completed()
    elapsed = time.perf_counter() - start
    return n / elapsed


class Pipeline:
    """Pipelined publish with one wildcard reply subscription and a counting callback:
    no future per message, `window` PubAcks outstanding. The fastest way to fill a stream."""

    def __init__(self, nc, window: int = 8192) -> None:
        self.nc = nc
        self.window = window
        self.sent = self.acked = self.errors = 0
        self.first_error: bytes | None = None
        self.last_seq = 0
        self.room = asyncio.Event()
        self.done = asyncio.Event()
        self.inbox = nc.new_inbox()

    async def __aenter__(self) -> Pipeline:
        async def on_ack(msg) -> None:
            self.acked += 1
            if b'"error"' in msg.data:
                self.errors += 1
                self.first_error = self.first_error or msg.data
            if self.sent - self.acked < self.window // 2:
                self.room.set()
            if self.acked == self.sent:
                self.done.set()

        self.sub = await self.nc.subscribe(self.inbox + ".*", cb=on_ack, pending_msgs_limit=-1, pending_bytes_limit=-1)
        return self

    async def publish(self, subject: str, data: bytes, headers: dict | None = None) -> None:
        while self.sent - self.acked >= self.window:
            self.room.clear()
            await self.room.wait()
        self.sent += 1
        self.done.clear()
        await self.nc.publish(subject, data, reply=f"{self.inbox}.{self.sent}", headers=headers)

    async def __aexit__(self, *exc) -> None:
        if self.sent != self.acked:
            await self.nc.flush()
            await asyncio.wait_for(self.done.wait(), timeout=60)
        await self.sub.unsubscribe()
        if self.errors:
            raise RuntimeError(f"{self.errors} publishes rejected, first: {self.first_error!r}")


async def raw_pipelined(nc, n: int, subject: str) -> float:
    start = time.perf_counter()
    async with Pipeline(nc) as pipe:
        for _ in range(n):
            await pipe.publish(subject, PAYLOAD)
    return n / (time.perf_counter() - start)


async def raw_one_at_a_time(nc, n: int, subject: str) -> float:
    js = nc.jetstream()
    start = time.perf_counter()
    for _ in range(n):
        await js.publish(subject, PAYLOAD)
    return n / (time.perf_counter() - start)


# ----------------------------------------------------------------------------- Tessera paths

def _event_msgs(n: int, aggregates: int, tag: str) -> list[OutMsg]:
    return [
        OutMsg(f"evt.{TENANT}.{tag}.a{i % aggregates}.ticked", PAYLOAD, f"{tag}-{i}")
        for i in range(n)
    ]


async def tessera_publish_many(nc, n: int, tag: str) -> float:
    publisher = Publisher(nc)
    msgs = _event_msgs(n, 1000, tag)
    start = time.perf_counter()
    acks = await publisher.publish_many(msgs)
    elapsed = time.perf_counter() - start
    assert len(acks) == n and not any(a.duplicate for a in acks)
    return n / elapsed


async def occ_single_aggregate(nc, n: int, tag: str) -> float:
    publisher = Publisher(nc)
    prefix = subjects.aggregate_subject_prefix(TENANT, tag, "one")
    flt = subjects.aggregate_subjects(TENANT, tag, "one")
    head = 0
    start = time.perf_counter()
    for i in range(n):
        ack = await publisher.publish(OutMsg(f"{prefix}.ticked", PAYLOAD, f"{tag}-{i}"), Expectation(flt, head))
        head = ack.seq
    return n / (time.perf_counter() - start)


async def batch_append(nc, batches: int, size: int, aggregates: int, tag: str) -> tuple[float, float]:
    """One writer, one batch in flight, `size` events per batch, each batch on one aggregate with an expectation."""
    publisher = Publisher(nc)
    heads = [0] * aggregates
    start = time.perf_counter()
    for b in range(batches):
        a = b % aggregates
        prefix = subjects.aggregate_subject_prefix(TENANT, tag, f"a{a}")
        msgs = [OutMsg(f"{prefix}.ticked", PAYLOAD, f"{tag}-{b}-{k}") for k in range(size)]
        ack = await publisher.publish_batch(msgs, Expectation(f"{prefix}.*", heads[a]))
        assert ack.count == size, ack
        heads[a] = ack.seq
    elapsed = time.perf_counter() - start
    return batches * size / elapsed, batches / elapsed


async def raw_batch(nc, batches: int, size: int, tag: str) -> tuple[float, float]:
    """Reference: the atomic-batch protocol spoken directly with nats-py (size-1 publishes + a committing
    request), one batch in flight, no expectation, no Tessera code."""
    start = time.perf_counter()
    for b in range(batches):
        bid = f"{tag}{b}"
        subject = f"evt.{TENANT}.{tag}.a{b % 100}.ticked"
        for k in range(1, size):
            await nc.publish(subject, PAYLOAD, headers={"Nats-Batch-Id": bid, "Nats-Batch-Sequence": str(k)})
        reply = await nc.request(subject, PAYLOAD, timeout=5, headers={
            "Nats-Batch-Id": bid, "Nats-Batch-Sequence": str(size), "Nats-Batch-Commit": "1"})
        assert b'"error"' not in reply.data, reply.data
    elapsed = time.perf_counter() - start
    return batches * size / elapsed, batches / elapsed


async def batch_append_concurrent(nc, batches: int, size: int, writers: int, tag: str) -> tuple[float, float]:
    """`writers` coroutines, each owning its own aggregate, appending batches concurrently."""
    publisher = Publisher(nc)
    per_writer = batches // writers

    async def writer(w: int) -> None:
        prefix = subjects.aggregate_subject_prefix(TENANT, tag, f"w{w}")
        head = 0
        for b in range(per_writer):
            msgs = [OutMsg(f"{prefix}.ticked", PAYLOAD, f"{tag}-{w}-{b}-{k}") for k in range(size)]
            head = (await publisher.publish_batch(msgs, Expectation(f"{prefix}.*", head))).seq

    start = time.perf_counter()
    await asyncio.gather(*(writer(w) for w in range(writers)))
    elapsed = time.perf_counter() - start
    done = per_writer * writers
    return done * size / elapsed, done / elapsed


# ----------------------------------------------------------------------------- replay

def _template() -> dict:
    cause = Envelope.for_command(BenchTick(), tenant=TENANT, actor="b", source="/b", time=datetime.now(timezone.utc),
                                 id="c")
    env = Envelope.for_event(BenchTicked(n=0), cause=cause, index=0, aggregate="tick", aggregateid="a0", version=1,
                             time=datetime(2025, 1, 1, tzinfo=timezone.utc), source="/b")
    body = orjson.loads(encode(env))
    decode(orjson.dumps(body))  # the template is a valid envelope
    return body


async def write_replay_data(nc, n: int, aggregates: int) -> tuple[float, int, int]:
    """n small encoded envelopes on `aggregates` aggregates, pipelined; returns (events/s, first seq, bytes each)."""
    body = _template()
    first = (await nc.jetstream().stream_info("EVT")).state.last_seq + 1
    size = 0
    start = time.perf_counter()
    async with Pipeline(nc) as pipe:
        for i in range(n):
            a = i % aggregates
            body["id"] = f"e{i}"
            body["aggregateid"] = f"a{a}"
            body["version"] = i // aggregates + 1
            body["data"]["n"] = i
            data = orjson.dumps(body)
            size = size or len(data)
            await pipe.publish(f"evt.{TENANT}.tick.a{a}.ticked", data, {"Nats-Msg-Id": f"e{i}"})
    elapsed = time.perf_counter() - start
    last = (await nc.jetstream().stream_info("EVT")).state.last_seq
    assert last - first + 1 == n, (first, last, n)
    return n / elapsed, first, size


async def tessera_replay(nc, first: int, n: int, with_decode: bool) -> float:
    from tests.bench.bench_rebuild import replay_count

    start = time.perf_counter()
    count = await replay_count(nc, with_decode, start_seq=first)
    elapsed = time.perf_counter() - start
    assert count == n, (count, n)
    return n / elapsed


async def raw_ordered_read(nc, first: int, n: int) -> float:
    """Reference: nats-py ordered push consumer with a counting callback, no Tessera code."""
    from nats.js.api import ConsumerConfig, DeliverPolicy

    js = nc.jetstream()
    count = 0
    done = asyncio.Event()

    async def cb(msg) -> None:
        nonlocal count
        count += 1
        if count == n:
            done.set()

    start = time.perf_counter()
    sub = await js.subscribe(
        ">", stream="EVT", ordered_consumer=True, cb=cb,
        config=ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=first),
        pending_msgs_limit=1_000_000, pending_bytes_limit=1 << 30,
    )
    await asyncio.wait_for(done.wait(), timeout=600)
    elapsed = time.perf_counter() - start
    await sub.unsubscribe()
    return n / elapsed


# ----------------------------------------------------------------------------- recorder (bus.eventstore)

def _make_recorder(url: str):
    """(factory, application recorder) for bus.eventstore, built as the library would build it."""
    from bus.eventstore import Factory

    factory = Factory({"PERSISTENCE_MODULE": "bus.eventstore", "TESSERA_NATS_URL": url})
    return factory, factory.application_recorder()


def recorder_benches(url: str, quick: bool, refs: dict) -> None:
    from eventsourcing.persistence import StoredEvent

    factory, recorder = _make_recorder(url)
    try:
        def insert_one() -> None:
            recorder.insert_events([StoredEvent(uuid.uuid4(), 1, "topic1", b"state1")])

        for _ in range(10):  # warm up, as the library's test_performance
            insert_one()
        number = 200 if quick else 2000
        start = time.perf_counter()
        for _ in range(number):
            insert_one()
        elapsed = time.perf_counter() - start
        line("6a. recorder insert 1 event/new originator (test_performance)", number / elapsed, "inserts/s",
             f"[{1e6 * elapsed / number:.0f} us each; {ratio(number / elapsed, refs.get('one', 0), 'of raw one-at-a-time')}]")

        def job() -> None:
            oid = uuid.uuid4()
            recorder.insert_events([StoredEvent(oid, i, "topic", b"state") for i in range(50)])

        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(lambda _: job(), range(4)))  # warm up
            jobs = 20 if quick else 200
            start = time.perf_counter()
            list(pool.map(lambda _: job(), range(jobs)))
            elapsed = time.perf_counter() - start
        rate = jobs * 50 / elapsed
        line("6b. recorder 50 events/job, 4 threads (concurrent_throughput)", rate, "events/s",
             f"[{jobs / elapsed:,.0f} jobs/s, {jobs} jobs; {ratio(rate, refs.get('raw', 0), 'of raw async')}]")
    finally:
        with contextlib.suppress(Exception):
            factory.close()


# ----------------------------------------------------------------------------- driver

async def profile_async(coro, top: int = 18) -> str:
    prof = cProfile.Profile()
    prof.enable()
    try:
        await coro
    finally:
        prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(top)
    return out.getvalue()


async def publish_benches(url: str, args) -> dict:
    settings = Settings()
    nc = await connect(url, settings, name="bench", pending_size=64 * 1024 * 1024)
    await ensure_streams(nc.jetstream(), settings)
    q = args.quick
    out = {}
    try:
        # warm-up: stream files created, connection's response mux ready
        await raw_publish_async(nc, 2000, "evt.bench.warm.a0.ticked")
        await Publisher(nc).publish_many(_event_msgs(2000, 100, "warm"))

        n_async = 20_000 if q else 200_000
        raw = await raw_publish_async(nc, n_async, "evt.bench.raw.a0.ticked")
        out["raw"] = raw
        line("1. raw js.publish_async, 128 B", raw, "msgs/s", f"[TARGETS ref ~42-50k/s; n={n_async:,}]")
        raw_id = await raw_publish_async(nc, n_async, "evt.bench.rawid.a0.ticked", msg_id=True)
        line("1b. raw js.publish_async + Nats-Msg-Id, 128 B", raw_id, "msgs/s", f"[{ratio(raw_id, raw, 'of raw')}]")
        piped = out["piped"] = await raw_pipelined(nc, n_async, "evt.bench.pipe.a0.ticked")
        line("1c. raw pipelined nc.publish (8192 window, 1 callback)", piped, "msgs/s", f"[{ratio(piped, raw, 'of raw')}]")

        n_sync = 2_000 if q else 10_000
        one = await raw_one_at_a_time(nc, n_sync, "evt.bench.one.a0.ticked")
        out["one"] = one
        line("2. raw js.publish one at a time (await each PubAck)", one, "msgs/s",
             f"[TARGETS ref ~5-6k/s; n={n_sync:,}]")

        n_many = 20_000 if q else 100_000
        many = await tessera_publish_many(nc, n_many, "many")
        out["many"] = many
        line("3. Tessera Publisher.publish_many (Msg-Id, one reply inbox)", many, "msgs/s",
             f"[{ratio(many, raw, 'of raw async')}; n={n_many:,}]")

        occ = await occ_single_aggregate(nc, n_sync, "occ")
        out["occ"] = occ
        line("4. OCC append, 1 writer, 1 aggregate (Expectation)", occ, "events/s",
             f"[{ratio(occ, one, 'of raw one-at-a-time')}; n={n_sync:,}]")

        nb = 300 if q else 2000
        rev1, rbs1 = await raw_batch(nc, nb // 2, 1, "r1")
        line("5r1. raw nats-py atomic batch x1 (reference)", rev1, "events/s", f"[{rbs1:,.0f} batches/s]")
        rev, rbs = await raw_batch(nc, nb // 2, 10, "r10")
        line("5r10. raw nats-py atomic batch x10 (reference)", rev, "events/s", f"[{rbs:,.0f} batches/s]")
        ev, bs = await batch_append(nc, nb, 10, 100, "b10")
        line("5a. Tessera publish_batch x10, 1 writer, expectation", ev, "events/s",
             f"[{bs:,.0f} batches/s; {ratio(ev, rev, 'of raw batch x10')}; {ratio(ev, raw, 'of raw async')}]")
        nb100 = 60 if q else 400
        ev, bs = await batch_append(nc, nb100, 100, 50, "b100")
        line("5b. Tessera publish_batch x100, 1 writer, expectation", ev, "events/s",
             f"[{bs:,.0f} batches/s; {ratio(ev, raw, 'of raw async')}]")
        ev, bs = await batch_append_concurrent(nc, nb, 10, 16, "c10")
        line("5c. Tessera publish_batch x10, 16 writers (own aggregates)", ev, "events/s",
             f"[{bs:,.0f} batches/s; {ratio(ev, raw, 'of raw async')}]")

        if args.profile:
            print("\n--- cProfile: Publisher.publish_many, 20,000 msgs (tottime) ---")
            print(await profile_async(Publisher(nc).publish_many(_event_msgs(20_000, 1000, "prof"))))
            print("--- cProfile: raw js.publish_async, 20,000 msgs (tottime) ---")
            print(await profile_async(raw_publish_async(nc, 20_000, "evt.bench.profraw.a0.ticked")))
    finally:
        await nc.close()
    return out


async def replay_benches(url: str, args, refs: dict) -> None:
    settings = Settings()
    nc = await connect(url, settings, name="bench-replay", pending_size=64 * 1024 * 1024)
    n = args.events
    try:
        rate, first, size = await write_replay_data(nc, n, max(1, n // 100))
        line(f"7a. write {n:,} envelopes ({size} B) pipelined, Msg-Id", rate, "events/s",
             f"[{n / rate:.1f} s; {ratio(rate, refs.get('piped', 0), 'of 1c raw pipelined')}]")
        raw = await raw_ordered_read(nc, first, n)
        line("7b. raw ordered consumer read (nats-py callback, reference)", raw, "events/s", f"[{n / raw:.1f} s]")
        rate = await tessera_replay(nc, first, n, with_decode=False)
        line("7c. bus.scan over EVT, count only", rate, "events/s",
             f"[{n / rate:.1f} s; {ratio(rate, raw, 'of raw read')}; target >= 50,000/s]")
        rate = await tessera_replay(nc, first, n, with_decode=True)
        line("7d. bus.scan + schemas.decode each", rate, "events/s",
             f"[{n / rate:.1f} s; {ratio(rate, raw, 'of raw read')}; target >= 50,000/s]")
        if args.profile:
            m = min(n, 100_000)
            print(f"\n--- cProfile: bus.read.replay + decode, first {m:,} of them (tottime) ---")
            print(await profile_async(_replay_prefix(nc, first, m)))
    finally:
        await nc.close()


async def _replay_prefix(nc, first: int, m: int) -> None:
    # replay reads to the stream's end; profile the same path over a bounded prefix via follow()
    seen = 0
    async with contextlib.aclosing(read.follow(nc, "EVT", start_seq=first)) as stream:
        async for stored in stream:
            decode(stored.data)
            seen += 1
            if seen >= m:
                break


def server_version() -> str:
    out = subprocess.run([find_binary(), "--version"], capture_output=True, text=True, check=False)
    return (out.stdout or out.stderr).strip()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=None, help="events written and replayed (default 1,000,000)")
    parser.add_argument("--quick", action="store_true", help="smoke run: small counts, 20,000-event replay")
    parser.add_argument("--profile", action="store_true", help="also print cProfile of publish_many and replay")
    args = parser.parse_args(argv)
    if args.events is None:
        args.events = 20_000 if args.quick else 1_000_000

    print(f"# bench_log: {server_version()}, nats-py {_nats_py()}, Python {platform.python_version()}, "
          f"nproc {os.cpu_count()}, {platform.machine()}, file storage, default fsync"
          f"{', quick' if args.quick else ''}, {args.events:,} replay events", flush=True)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="tessera-bench-") as tmp:
        server = ServerProcess(store_dir=Path(tmp) / "store", name="bench").start()
        try:
            refs = asyncio.run(publish_benches(server.url, args))
            recorder_benches(server.url, args.quick, refs)
            asyncio.run(replay_benches(server.url, args, refs))
        finally:
            server.stop()
    print(f"# total {time.perf_counter() - started:.0f} s", flush=True)


def _nats_py() -> str:
    from importlib.metadata import version

    return version("nats-py")


if __name__ == "__main__":
    main()
