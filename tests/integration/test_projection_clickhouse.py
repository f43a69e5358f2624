"""The ClickHouse projection against real chdb: idempotent inserts, exact rollups, crash recovery, dead letters."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from adapters.clickhouse import client as clickhouse_client
from projections.clickhouse import ClickHouseSink, queries
from schemas import jobs as j
from tests.factories.projections import (
    History,
    admitted_and_queued,
    job_placed,
    node_registered,
    slot,
)

DB = "tessera"


@pytest.fixture
def ch(tmp_path):
    client = clickhouse_client(tmp_path / "clickhouse")
    yield client
    client.close()


def hour(h: int) -> datetime:
    return datetime(2025, 1, 1, h)


def usage_history() -> History:
    """acme: 2 H100 from 00:30 to 02:15 (succeeded); globex: 1 A100 from 01:00 to 01:20 then requeued."""
    h = History()
    h.fleet(node_registered("n1", gpus=8))
    h.fleet(node_registered("n2", gpus=4, model="A100"))
    admitted_and_queued(h, "j1", gpus=2, gpu_model="H100")
    admitted_and_queued(h, "j2", tenant="globex", gpus=1, gpu_model="A100")
    h.job(job_placed("j1", slot("n1", (0, 1))), at_s=1800)
    h.job(job_placed("j2", slot("n2", (2,)), model="A100"), "globex", at_s=3600)
    h.job(j.JobRequeued(job_id="j2", reason=j.WaitReason(code="node_lost"), attempt=1), "globex", at_s=4800)
    h.job(j.JobSucceeded(job_id="j1"), at_s=8100)
    return h


EXPECTED_HOURLY = [
    ("acme", "H100", hour(0), Decimal(3600)),
    ("acme", "H100", hour(1), Decimal(7200)),
    ("acme", "H100", hour(2), Decimal(1800)),
    ("globex", "A100", hour(1), Decimal(1200)),
]


def test_the_hourly_rollup_returns_exact_gpu_seconds_per_tenant_model_and_hour(ch):
    sink = ClickHouseSink(ch, database=DB).setup()
    sink.apply_batch(usage_history().events)
    assert queries.gpu_seconds_by_hour(ch, DB) == EXPECTED_HOURLY
    assert queries.gpu_seconds_by_tenant(ch, DB) == {("acme", "H100"): Decimal(12600), ("globex", "A100"): Decimal(1200)}
    assert queries.node_use(ch, DB) == {("c1", "n1"): (8, 0), ("c1", "n2"): (4, 0)}


def test_redelivered_and_replayed_events_are_never_counted_twice(ch):
    h = usage_history()
    sink = ClickHouseSink(ch, database=DB).setup()
    sink.apply_batch(h.events[:7])
    sink.apply_batch(h.events[4:])  # a redelivered middle part, then the rest
    sink.apply_batch(h.events)  # a full replay
    assert sink.position() == len(h.events)
    assert queries.job_event_rows(ch, DB) == len([e for e, _ in h.events if e.aggregate == "job"])
    assert queries.job_event_counts(ch, DB)[("acme", "job_placed")] == 1
    assert queries.gpu_seconds_by_hour(ch, DB) == EXPECTED_HOURLY


class CrashBeforeTracking:
    """A client that stores data rows but dies before writing the tracking row."""

    def __init__(self, client) -> None:
        self.client = client

    def __getattr__(self, name):
        return getattr(self.client, name)

    def insert(self, table, rows, **kw):
        if table.endswith("projection_tracking"):
            raise ConnectionError("killed between the data and the tracking row")
        return self.client.insert(table, rows, **kw)


def test_a_crash_between_rows_and_tracking_is_absorbed_on_restart(ch):
    h = usage_history()
    ClickHouseSink(ch, database=DB).setup().apply_batch(h.events[:6])
    crashing = ClickHouseSink(CrashBeforeTracking(ch), database=DB).setup()
    with pytest.raises(Exception, match="killed"):
        crashing.apply_batch(h.events[6:10])  # both placements stored, position not moved
    restarted = ClickHouseSink(ch, database=DB).setup()
    assert restarted.position() == 6
    restarted.apply_batch(h.events[6:])
    assert queries.gpu_seconds_by_hour(ch, DB) == EXPECTED_HOURLY
    assert queries.node_use(ch, DB) == {("c1", "n1"): (8, 0), ("c1", "n2"): (4, 0)}


def test_position_and_open_intervals_survive_a_reopen(tmp_path):
    h = usage_history()
    first = clickhouse_client(tmp_path / "ch")
    ClickHouseSink(first, database=DB).setup().apply_batch(h.events[:-1])  # j1 still placed
    first.close()
    second = clickhouse_client(tmp_path / "ch")
    try:
        sink = ClickHouseSink(second, database=DB).setup()
        assert sink.position() == len(h.events) - 1 and set(sink.state.open) == {"j1"}
        sink.apply_batch(h.events)
        assert queries.gpu_seconds_by_hour(second, DB) == EXPECTED_HOURLY
    finally:
        second.close()


def test_an_event_clickhouse_refuses_is_rejected_alone_and_the_rest_is_stored(ch):
    h = History()
    admitted_and_queued(h, "j1")
    h.job(j.JobFailed(job_id="j1", exit_code=2**40))  # does not fit the Int32 column
    admitted_and_queued(h, "j2")
    sink = ClickHouseSink(ch, database=DB).setup()
    sink.apply_batch(h.events)
    assert [(r.seq, r.envelope.type) for r in sink.rejected] == [(4, j.JobFailed.TYPE)]
    assert "exit_code" in sink.rejected[0].error
    assert sink.position() == 7 and queries.job_event_rows(ch, DB) == 6


def test_the_default_client_is_embedded_chdb_under_tessera_home(tmp_path):
    from bus.settings import Settings

    embedded = clickhouse_client(Settings(home=tmp_path / "home"), environ={})
    try:
        assert embedded.query("SELECT 1").result_rows == [(1,)]
        assert (tmp_path / "home" / "clickhouse").is_dir()
    finally:
        embedded.close()


def test_an_unreachable_clickhouse_url_is_a_transient_error():
    from adapters.clickhouse import ClickHouseUnavailable

    with pytest.raises(ClickHouseUnavailable):
        clickhouse_client(environ={"TESSERA_CLICKHOUSE_URL": "http://127.0.0.1:1"})
