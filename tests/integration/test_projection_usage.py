"""The USAGE projection against real chdb (and a real nats-server): exact, deduplicated, replayable."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import orjson
import pytest

from adapters.clickhouse import client as clickhouse_client
from bus import subjects
from bus.publish import OutMsg, Publisher
from domains.billing.periods import period_of
from projections.usage import RateCards, UsageSink, queries
from projections.usage.service import UsageProjection
from schemas import Envelope, encode
from schemas.metering import Price, PriceTier
from tests.factories.usage import T0, at, batch, card, envelope, gpu, request

DB = "tessera"
NOV = period_of(T0, "monthly")
V2_FROM = datetime(2026, 11, 20, tzinfo=UTC)
TIERED = Price(scheme="graduated", tiers=[PriceTier(up_to=Decimal(1), unit_price=Decimal("3.00")),
                                          PriceTier(unit_price=Decimal("1.00"))])


@pytest.fixture
def ch(tmp_path):
    client = clickhouse_client(tmp_path / "clickhouse")
    yield client
    client.close()


def cards() -> RateCards:
    return RateCards([card(1, gpu_prices={"A100": TIERED}), card(2, V2_FROM, gpu_hour={"H100": "3.00", "A100": "1"})])


def records() -> list:
    """acme: GPU usage over a rate change, tiered A100, inference over two minutes; globex: a little of each."""
    return [
        gpu("g1", seconds="5400.5"), gpu("g2", seconds="1", start=at(60)),
        gpu("g3", seconds="1800", start=V2_FROM), gpu("g4", model="A100", seconds="5400"),
        *[request(f"r{i}", prompt=100 + i, completion=i, latency=50.0 + i, start=at(i)) for i in range(90)],
        request("rx", outcome="error", prompt=0, completion=0, start=at(10)),
        gpu("g5", tenant="globex", seconds="7200"), request("r1", tenant="globex", model="smol"),
        gpu("g6", model="B200"),  # no price: unrated
    ]


def lines(preview) -> list[tuple]:
    return [(x.kind, x.item, x.rate_card_version, x.records, x.quantity, x.amount) for x in preview.lines]


def test_the_invoice_preview_from_the_rollup_equals_the_raw_rows_to_the_cent(ch):
    book = cards()
    UsageSink(ch, book, database=DB).setup().apply_batch(batch(*records()))
    expected = [
        ("completion_tokens", "llama", 1, 89, Decimal(sum(range(90))), Decimal("0.01")),
        ("gpu", "A100", 1, 1, Decimal(5400), Decimal("3.50")),  # 1 h at 3.00, 0.5 h at 1.00
        ("gpu", "B200", 0, 1, Decimal(3600), None),
        ("gpu", "H100", 1, 2, Decimal("5401.5"), Decimal("3.75")),  # 1.50041666 h x 2.50
        ("gpu", "H100", 2, 1, Decimal(1800), Decimal("1.50")),
        ("prompt_tokens", "llama", 1, 90, Decimal(sum(range(100, 190))), Decimal("0.03")),
    ]
    rollup = queries.preview(ch, DB, book, "acme", NOV)
    assert lines(rollup) == expected
    assert lines(queries.preview_raw(ch, DB, book, "acme", NOV)) == expected
    assert rollup.subtotal == {"USD": Decimal("8.79")}
    assert lines(queries.preview(ch, DB, book, "acme", period_of(T0 + timedelta(days=31), "monthly"))) == []


def test_per_minute_inference_rollups_match_the_raw_requests(ch):
    UsageSink(ch, cards(), database=DB).setup().apply_batch(batch(*records()))
    minutes = queries.inference_minutes(ch, DB, "acme")
    assert [(m.minute, m.requests, m.errors, m.prompt_tokens, m.completion_tokens) for m in minutes] == [
        (T0.replace(tzinfo=None), 61, 1, sum(range(100, 160)), sum(range(60))),
        ((T0 + timedelta(minutes=1)).replace(tzinfo=None), 30, 0, sum(range(160, 190)), sum(range(60, 90))),
    ]
    raw = ch.query(f"SELECT quantilesTiming(0.5, 0.95)(latency_ms) FROM {DB}.inference_requests "
                   "WHERE tenant = 'acme' AND time < {t:DateTime64(3)}", parameters={"t": at(60)}).result_rows[0][0]
    assert (minutes[0].p50_ms, minutes[0].p95_ms) == tuple(float(q) for q in raw)


def test_redelivery_replay_and_duplicate_record_ids_never_count_twice(ch):
    book, recs = cards(), records()
    sink = UsageSink(ch, book, database=DB).setup()
    sink.apply_batch(batch(*recs[:50]))
    before = queries.table_digest(ch, DB)
    sink.apply_batch(batch(*recs[:50]))  # redelivered: same sequences
    assert queries.table_digest(ch, DB) == before
    sink.apply_batch(batch(*recs[40:], first_seq=41))  # overlap, then the rest
    sink.apply_batch(batch(*recs[:10], first_seq=len(recs) + 1))  # the same ids published again later
    digest = queries.table_digest(ch, DB)
    assert digest.startswith(f"inference_requests:{92}:") and f"rated_usage:{90 + 89 + 2 + 6}:" in digest
    live = lines(queries.preview(ch, DB, book, "acme", NOV))

    restarted = UsageSink(ch, book, database=DB).setup()  # the dedupe state comes back from the tables
    restarted.apply_batch(batch(*recs, first_seq=500))
    assert queries.table_digest(ch, DB) == digest

    restarted.reset()  # replay from zero: identical tables
    restarted.apply_batch(batch(*recs))
    restarted.apply_batch(batch(*recs[:10], first_seq=len(recs) + 1))
    assert queries.table_digest(ch, DB) == digest
    assert lines(queries.preview(ch, DB, book, "acme", NOV)) == live


class CrashBeforeTracking:
    def __init__(self, client) -> None:
        self.client = client

    def __getattr__(self, name):
        return getattr(self.client, name)

    def insert(self, table, rows, **kw):
        raise ConnectionError("killed between the rows and the tracking row")


def test_a_crash_before_the_tracking_row_or_inside_a_view_is_repaired_on_restart(ch):
    book, recs = cards(), records()
    UsageSink(ch, book, database=DB).setup().apply_batch(batch(*recs[:20]))
    with pytest.raises(Exception, match="killed"):
        UsageSink(CrashBeforeTracking(ch), book, database=DB).setup().apply_batch(batch(*recs))
    ch.command(f"TRUNCATE TABLE {DB}.rated_usage_daily")  # as if the view's part of an insert was lost
    restarted = UsageSink(ch, book, database=DB).setup()
    assert restarted.position() == 20
    restarted.apply_batch(batch(*recs))
    assert lines(queries.preview(ch, DB, book, "acme", NOV)) == lines(queries.preview_raw(ch, DB, book, "acme", NOV))
    assert queries.table_digest(ch, DB).startswith("inference_requests:92:")
    assert ch.query(f"SELECT count() FROM {DB}.rated_usage").result_rows[0][0] == 90 + 89 + 2 + 6


def test_a_record_clickhouse_cannot_hold_is_rejected_alone(ch):
    sink = UsageSink(ch, cards(), database=DB).setup()
    bad = gpu("bad", seconds="0.0000000001")
    sink.apply_batch(batch(gpu("g1"), bad, gpu("g2")))
    assert [(r.seq, r.envelope.id) for r in sink.rejected] == [(2, "bad")]
    assert "quantity" in sink.rejected[0].error and sink.position() == 3
    assert [x.records for x in queries.preview(ch, DB, sink.rater.cards, "acme", NOV).lines] == [2]


async def test_records_published_to_usage_are_rated_with_cards_from_the_log(nc, tmp_path):
    events = Publisher(nc, stream="EVT")
    c = card(1)
    env = Envelope(specversion="1.0", id="rc1", source="/tests", type=c.TYPE, time=T0, tenant="_platform",
                   actor="tests", correlationid="rc1", data=c, aggregate="ratecard", aggregateid="default", version=1)
    await events.publish(OutMsg(subjects.subject_for(env), encode(env), "rc1"))
    usage = Publisher(nc, stream="USAGE")
    recs = [gpu("g1"), request("r1"), request("r1"), gpu("g2", tenant="globex")]
    await usage.publish_many([OutMsg(subjects.usage_subject(r.tenant, "x"), encode(envelope(r)), f"m{i}")
                              for i, r in enumerate(recs)])
    client = clickhouse_client(tmp_path / "ch")
    try:
        projection = UsageProjection(nc, client)
        assert await projection.catch_up() == 4
        preview = queries.preview(client, DB, projection.cards, "acme", NOV)
        assert [(x.kind, x.records, x.amount) for x in preview.lines] == [
            ("completion_tokens", 1, Decimal("0.00")), ("gpu", 1, Decimal("2.50")), ("prompt_tokens", 1, Decimal("0.00"))]
    finally:
        client.close()


async def test_bytes_on_usage_that_do_not_decode_are_rejected_and_passed_over(nc, ch):
    """The records around them are stored; each undecodable message is passed over with the decoder's reason."""
    good = [request("r1"), gpu("g1")]
    broken = orjson.loads(encode(envelope(request("r2"))))
    broken["data"]["status"] = 600
    await Publisher(nc, stream="USAGE").publish_many([
        OutMsg(subjects.usage_subject("acme", "inference"), encode(envelope(good[0])), "m1"),
        OutMsg(subjects.usage_subject("acme", "inference"), b"{not json", "m2"),
        OutMsg(subjects.usage_subject("acme", "inference"), orjson.dumps(broken), "m3"),
        OutMsg(subjects.usage_subject("acme", "gpu"), encode(envelope(good[1])), "m4"),
    ])
    projection = UsageProjection(nc, ch)
    assert await projection.catch_up() == 4
    stored = ch.query(f"SELECT record_id FROM {DB}.rated_usage FINAL ORDER BY record_id").result_rows
    assert sorted({r for (r,) in stored}) == ["g1", "r1"]
    skipped = projection.runner.skipped
    assert [seq for seq, _ in skipped] == [2, 3]
    assert "malformed JSON" in skipped[0][1] and "data.status" in skipped[1][1]
    assert projection.runner.position() == 4
