"""`audit_events` against real chdb: every filter answers exactly the events computed from the history."""

from __future__ import annotations

import itertools
from datetime import timedelta

import orjson
import pytest

from adapters.clickhouse import client as clickhouse_client
from projections.clickhouse import ClickHouseSink, queries
from projections.clickhouse.audit_query import AuditFilter, audit_page
from projections.clickhouse.rows import batch_rows
from projections.clickhouse.state import UsageState
from projections.registry.paging import InvalidQuery
from schemas import jobs as j
from tests.factories.identity import History as IdentityHistory
from tests.factories.identity import token_issued
from tests.factories.projections import History, at, job_submitted, node_registered

DB = "tessera"
ACTORS = ("user:acme/ann#tokann000001", "user:acme/ann#tokann000002", "user:acme/bob#tokbob000001",
          "user:globex/gus#tokgus000001", "reactor:placer", "user:_platform/root#tokroot00001")


def history() -> list:
    """40 events: jobs of acme and globex, nodes, tokens; actors and times interleaved (times not in seq order)."""
    h, who = History(), itertools.cycle(ACTORS)
    for n in range(30):
        tenant = "acme" if n % 3 else "globex"
        at_s = 600.0 * n + (0.000123 if n % 2 else 0)
        if n % 5 == 4:
            h.fleet(node_registered(f"n{n}"), at_s=at_s)
        elif n % 2:
            h.job(job_submitted(f"j{n}"), tenant, at_s=at_s)
        else:
            h.job(j.JobCancelled(job_id=f"j{n - 1}", reason="user"), tenant, at_s=at_s)
    identity = IdentityHistory()
    identity.seq = len(h.events)
    tokens = [e for k in range(10) for e in identity("acme" if k % 2 else "globex", token_issued(f"tok{k:09}", "ann"),
                                                       time=at(300.0 * k + 1))]
    return [(env.model_copy(update={"actor": next(who)}), seq) for env, seq in h.events + tokens]


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    ch = clickhouse_client(tmp_path_factory.mktemp("audit-ch") / "clickhouse")
    events = history()
    sink = ClickHouseSink(ch, database=DB).setup()
    sink.apply_batch(events[:25])
    sink.apply_batch(events[:25])  # redelivered: dropped by tracking
    sink.apply_batch(events[25:])
    sink._insert(batch_rows(events[10:20], UsageState()))  # a crash replay: twins in the table itself
    yield ch, events
    ch.close()


def everything(ch, f: AuditFilter, page_size: int = 7) -> list[dict]:
    items, cursor = audit_page(ch, DB, f, page_size)
    while cursor is not None:
        more, cursor = audit_page(ch, DB, f, page_size, cursor)
        assert more, "a cursor is only given when more items follow"
        items += more
    return items


def matches(env, f: AuditFilter) -> bool:
    who, _, credential = env.actor.partition("#")
    want_who, _, want_credential = (f.actor or "").partition("#")
    return ((f.tenant is None or env.tenant == f.tenant) and (not f.actor or want_who == who)
            and (not want_credential or want_credential == credential)
            and (f.aggregate is None or env.aggregate == f.aggregate)
            and (f.aggregate_id is None or env.aggregateid == f.aggregate_id)
            and (not f.types or env.type in f.types) and (f.start is None or env.time >= f.start)
            and (f.end is None or env.time < f.end)
            and (f.private_of is None or env.aggregate != "token" or who == f.private_of))


FILTERS = [
    AuditFilter(),
    AuditFilter(tenant="acme"),
    AuditFilter(tenant="_platform"),
    AuditFilter(actor="user:acme/ann"),
    AuditFilter(actor="user:acme/ann#tokann000002"),
    AuditFilter(tenant="acme", aggregate="job"),
    AuditFilter(aggregate="job", aggregate_id="j7"),
    AuditFilter(types=("tessera.scheduling.job_cancelled.v1", "tessera.identity.token_issued.v1")),
    AuditFilter(start=at(1800), end=at(6000.000123)),
    AuditFilter(tenant="acme", start=at(3000.000123), actor="reactor:placer"),
    AuditFilter(tenant="acme", private_of="user:acme/bob"),
    AuditFilter(tenant="nobody"),
]


@pytest.mark.parametrize("f", FILTERS, ids=repr)
def test_each_filter_answers_exactly_the_matching_events_newest_first(stored, f):
    ch, events = stored
    expected = sorted(((env.time, seq) for env, seq in events if matches(env, f)), reverse=True)
    got = everything(ch, f)
    assert [(item["time"], item["seq"]) for item in got] == expected


def test_an_item_shows_who_with_which_token_did_what_to_which_object_without_secrets(stored):
    ch, events = stored
    env, seq = next((env, seq) for env, seq in events if env.aggregate == "token")
    [item] = everything(ch, AuditFilter(aggregate="token", aggregate_id=env.aggregateid))
    who, _, credential = env.actor.partition("#")
    assert item == {"seq": seq, "id": env.id, "time": env.time, "tenant": env.tenant, "type": env.type,
                    "actor": who, "credential": credential or None, "causation": env.causationid,
                    "correlation": env.correlationid, "aggregate": "token", "aggregate_id": env.aggregateid,
                    "version": 1, "data": {**orjson.loads(env.data.model_dump_json()), "token_hash": "<redacted>"}}


def test_later_pages_do_not_move_when_newer_events_arrive(stored, tmp_path):
    ch, events = stored
    first, cursor = audit_page(ch, DB, AuditFilter(tenant="acme"), 5)
    late = [(env.model_copy(update={"time": env.time + timedelta(days=1), "id": f"late-{seq}"}), seq + 1000)
            for env, seq in events[:3]]
    ClickHouseSink(ch, database=DB).setup().apply_batch(late)
    rest, _ = audit_page(ch, DB, AuditFilter(tenant="acme"), 100, cursor)
    expected = sorted(((env.time, seq) for env, seq in events if env.tenant == "acme"), reverse=True)
    assert [(i["time"], i["seq"]) for i in first + rest] == expected


@pytest.mark.parametrize("cursor", ["nonsense", "WzEsMiwzXQ==", "WyJhIiwgMV0="])  # junk, [1,2,3], ["a", 1]
def test_a_malformed_cursor_is_the_callers_mistake(stored, cursor):
    with pytest.raises(InvalidQuery):
        audit_page(stored[0], DB, AuditFilter(), 5, cursor)


def test_a_store_made_before_the_audit_table_is_rebuilt_from_the_start(stored):
    ch, events = stored  # one chdb path per process: another database on the module's engine
    db = "upgraded"
    ClickHouseSink(ch, database=db).setup().apply_batch(events)
    before = queries.table_digest(ch, db)
    ch.command(f"DROP TABLE {db}.audit_events")  # as a store written by the previous version
    sink = ClickHouseSink(ch, database=db).setup()
    assert sink.position() == 0  # starts over: the catch-up replays every event
    sink.apply_batch(events)
    assert queries.table_digest(ch, db) == before
    assert len(audit_page(ch, db, AuditFilter(), 100)[0]) == len(events)
