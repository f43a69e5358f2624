"""P4: usage records ingested into ClickHouse (chdb) and rated; a tenant's invoice preview over 10M rows.

Run:  .venv/bin/python -m tests.bench.bench_p4            (1,000,000 records; 10M preview rows)
      .venv/bin/python -m tests.bench.bench_p4 --quick    (100,000 records; 1M preview rows)
      options: --records N, --rows N (preview table size)

Starts its own nats-server (temporary store, file storage) and chdb (temporary
path), and prints one line per figure (TARGETS.md, "How to report"). Not a
test: nothing here asserts a timing.

Figures
  a0  publish: the records published to USAGE with Publisher.publish_many (Nats-Msg-Id on each):
      the reference for a1
  a1  end to end: UsageProjection.catch_up over those records: replay from USAGE, decode, dedupe,
      rate with the rate card in force, insert into inference_requests / rated_usage (+ rollup views)
  a2  insert only: the same run's records / time spent in the ClickHouse inserts
  b1  invoice preview of one tenant for one month from the daily rollup (rated_usage_daily),
      over a rated_usage table of --rows rows (the tenant holds most of them; skewed tenants)
  b2  the same preview over the raw rows (FINAL): the reference for b1
Records: 4 of 5 are inference requests (two rated rows each), 1 of 5 GPU intervals; 20 tenants.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import orjson

from adapters.clickhouse import client as clickhouse_client
from bus import subjects
from bus.connection import connect
from bus.publish import OutMsg, Publisher
from bus.server import ServerProcess
from bus.settings import Settings
from bus.streams import ensure_streams
from domains.billing.periods import period_of
from projections.usage import RateCards, UsageSink, queries
from projections.usage.service import UsageProjection
from schemas import Envelope, decode, encode
from schemas.metering import (
    RateCardPublished,
    UsageRecorded,
)
from schemas.usage import InferenceRequestRecorded

T0 = datetime(2026, 11, 1, tzinfo=UTC)
CARD = RateCardPublished(version=1, effective_from=datetime(2026, 1, 1, tzinfo=UTC),
                         gpu_hour={"H100": "2.50", "A100": "1.20"}, tokens_1k={"llama": "0.002", "smol": "0.0005"})
DB = "tessera"


def line(name: str, value: float, unit: str, ref: str = "") -> None:
    text = f"{name:<58} {value:>12,.0f} {unit:<10}"
    print(f"{text} {ref}".rstrip(), flush=True)


def _iso(t: datetime) -> str:
    return orjson.dumps(t, option=orjson.OPT_UTC_Z)[1:-1].decode()  # as the codec writes times


def record(i: int) -> OutMsg:
    """Record i as its wire bytes (the codec's shape, built with orjson directly: generation is not measured)."""
    tenant = f"t{i % 20:02d}"
    start = T0 + timedelta(seconds=i % 2_000_000)
    rid = f"u{i:09d}"
    if i % 5:
        data, kind, source = {
            "request_id": rid, "tenant": tenant, "key_id": "k1", "model": "llama" if i % 3 else "smol",
            "endpoint": "chat.completions", "stream": False, "outcome": "ok", "status": 200,
            "prompt_tokens": 100 + i % 50, "completion_tokens": i % 200, "estimated": False,
            "deployment": None, "replica": None, "generation": None, "attempts": 1,
            "start": _iso(start), "end": _iso(start + timedelta(milliseconds=80)), "latency_ms": 80.0 + i % 40,
            "first_token_ms": None,
        }, InferenceRequestRecorded.TYPE, "inference"
    else:
        data, kind, source = {
            "record_id": rid, "tenant": tenant, "job_id": f"j{i}", "source": "gpu",
            "gpu_model": "H100" if i % 2 else "A100", "model": None, "gpus": 1, "attempt": 1, "quantity": "3600.5",
            "unit": "gpu_second", "start": _iso(start), "end": _iso(start + timedelta(seconds=3600.5)),
        }, UsageRecorded.TYPE, "gpu"
    body = {"specversion": "1.0", "id": rid, "source": "/bench", "type": kind, "time": data["end"],
            "datacontenttype": "application/json", "tenant": tenant, "actor": "bench", "correlationid": rid,
            "aggregate": "usage", "aggregateid": rid, "version": 1, "data": data}
    return OutMsg(subjects.usage_subject(tenant, source), orjson.dumps(body), rid)


async def ingest(url: str, n: int, path: Path) -> None:
    settings = Settings()
    nc = await connect(url, settings, name="bench-p4", pending_size=64 * 1024 * 1024)
    await ensure_streams(nc.jetstream(), settings)
    env = Envelope(specversion="1.0", id="rc1", source="/bench", type=CARD.TYPE, time=T0, tenant="_platform",
                   actor="bench", correlationid="rc1", data=CARD, aggregate="ratecard", aggregateid="default",
                   version=1)
    await Publisher(nc, stream="EVT").publish(OutMsg(subjects.subject_for(env), encode(env), "rc1"))
    msgs = [record(i) for i in range(n)]
    for m in msgs[:5]:  # the bytes are exactly what the codec writes for these records
        assert encode(decode(m.data)) == m.data, m.data
    publisher = Publisher(nc, stream="USAGE", timeout=30.0)
    started = time.perf_counter()
    for i in range(0, n, 50_000):
        await publisher.publish_many(msgs[i:i + 50_000])
    publish = n / (time.perf_counter() - started)
    line("a0 publish usage records to USAGE (publish_many)", publish, "records/s")
    del msgs

    client = clickhouse_client(path)
    try:
        projection = UsageProjection(nc, client)
        sink, spent = projection.sink, [0.0]
        insert = sink._insert

        def timed(tables):
            t = time.perf_counter()
            try:
                return insert(tables)
            finally:
                spent[0] += time.perf_counter() - t

        sink._insert = timed  # type: ignore[method-assign]
        started = time.perf_counter()
        done = await projection.catch_up()
        elapsed = time.perf_counter() - started
        assert done == n, f"stored up to {done}, expected {n}"
        rows = client.query(f"SELECT count() FROM {DB}.rated_usage").result_rows[0][0]
        line("a1 consume + rate + insert into chdb (end to end)", n / elapsed, "records/s",
             f"{n / elapsed / publish:.2f}x a0; {rows:,} rated rows")
        line("a2 insert only (time inside ClickHouse inserts)", n / spent[0], "records/s",
             f"{spent[0] / elapsed:.0%} of a1's time")
    finally:
        client.close()
        await nc.close()


GENERATE = """
INSERT INTO {db}.rated_usage
SELECT number + 1 AS seq, concat('x', toString(number)) AS record_id,
       if(number % 10 < 8, 'big', concat('t', toString(number % 37))) AS tenant,
       if(number % 4 = 0, 'gpu', 'inference') AS source,
       if(number % 4 = 0, 'gpu', if(number % 2 = 1, 'prompt_tokens', 'completion_tokens')) AS kind,
       if(number % 4 = 0, if(number % 8 = 0, 'H100', 'A100'), if(number % 3 = 0, 'smol', 'llama')) AS item,
       'k1' AS key_id, '' AS job_id,
       toDateTime64('2026-10-01 00:00:00', 3, 'UTC') + toIntervalSecond(number * 7919 % 5270400) AS time,
       formatDateTime(time, '%Y-%m') AS period,
       toDecimal128(if(number % 4 = 0, 3600.5, number % 500), 9) AS quantity,
       if(number % 4 = 0, 'gpu_second', 'token') AS unit, 'per_unit' AS scheme,
       toDecimal128(0, 9) AS unit_price, toDecimal128(0, 12) AS amount, 'USD' AS currency,
       toUInt32(1) AS rate_card_version, '' AS problem
FROM numbers({n})
"""


def preview(n: int, path: Path) -> None:
    client = clickhouse_client(path)
    try:
        cards = RateCards([CARD])
        UsageSink(client, cards).setup()
        started = time.perf_counter()
        client.command(GENERATE.format(db=DB, n=n))
        line(f"b0 generate {n:,} rated rows (INSERT SELECT, views on)", n / (time.perf_counter() - started), "rows/s")
        month = period_of(datetime(2026, 11, 10, tzinfo=UTC), "monthly")
        tenant_rows = client.query(f"SELECT count() FROM {DB}.rated_usage WHERE tenant = 'big'").result_rows[0][0]
        timings = {}
        for name, fn in (("rollup", queries.preview), ("raw", queries.preview_raw)):
            best = float("inf")
            for _ in range(3):
                t = time.perf_counter()
                result = fn(client, DB, cards, "big", month)
                best = min(best, time.perf_counter() - t)
            timings[name] = (best, result)
        (fast, a), (slow, b) = timings["rollup"], timings["raw"]
        same = [(x.kind, x.item, x.quantity, x.amount) for x in a.lines] == \
               [(x.kind, x.item, x.quantity, x.amount) for x in b.lines]
        line("b1 invoice preview, one tenant, one month (rollup)", fast * 1000, "ms",
             f"tenant holds {tenant_rows:,} of {n:,} rows; total {a.subtotal}; equal to b2: {same}")
        line("b2 same preview over raw rows (FINAL)", slow * 1000, "ms", f"b1 is {slow / fast:.0f}x faster")
    finally:
        client.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="100,000 records, 1M preview rows")
    parser.add_argument("--records", type=int, default=None)
    parser.add_argument("--rows", type=int, default=None)
    args = parser.parse_args(argv)
    n = args.records or (100_000 if args.quick else 1_000_000)
    rows = args.rows or (1_000_000 if args.quick else 12_500_000)
    print(f"# bench_p4: {n:,} usage records, {rows:,} preview rows{', quick' if args.quick else ''}", flush=True)
    with tempfile.TemporaryDirectory(prefix="tessera-p4-") as tmp:
        server = ServerProcess(store_dir=Path(tmp) / "store", name="bench-p4").start()
        try:
            asyncio.run(ingest(server.url, n, Path(tmp) / "ch-ingest"))
        finally:
            server.stop()
        preview(rows, Path(tmp) / "ch-preview")


if __name__ == "__main__":
    main()
