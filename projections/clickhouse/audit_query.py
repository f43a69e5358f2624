"""Reading `audit_events`: who did what to which object and when, filtered and paged.

`audit_page(client, db, AuditFilter(...), page_size, cursor)` answers the
matching events newest first, `page_size` at a time, and the cursor of the
next page (None on the last one). The cursor is the last row's (time, seq)
(projections.registry.paging's opaque encoding): rows stored after a page
was read never shift later pages, and a malformed cursor is `InvalidQuery`.
The table is read with FINAL, so a row stored twice (redelivery, replay)
is listed once. Filters (all optional, combined with AND):
- `tenant`: the events of one tenant (None: every tenant).
- `actor`: "user:acme/ann" matches every credential of that user;
  "user:acme/ann#<token_id>" only what was done with that token.
- `aggregate` / `aggregate_id`: the object's kind and id; `types`: full wire
  types (any of them); `start` (inclusive) / `end` (exclusive): event time.
- `private_of`: for callers who may only see their own tokens (members,
  viewers): `token` events are listed only when this actor caused them.
- `until_seq`: only events at or below this EVT sequence (a read of the past:
  a row is its event, so the cut is exact).
Blocking (clickhouse-connect): call it in a worker thread. Any engine error is
`AuditUnavailable` (the gateway answers 503).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import orjson

from projections.clickhouse.audit_events import split_actor
from projections.registry.paging import InvalidQuery, decode_cursor, encode_cursor

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICRO = timedelta(microseconds=1)
COLUMNS = ("seq", "toUnixTimestamp64Micro(time)", "tenant", "actor", "credential", "aggregate", "aggregate_id",
           "type", "event_id", "version", "causation", "correlation", "data")


class AuditUnavailable(Exception):
    pass


@dataclass(frozen=True)
class AuditFilter:
    tenant: str | None = None
    actor: str | None = None
    aggregate: str | None = None
    aggregate_id: str | None = None
    types: tuple[str, ...] = ()
    start: datetime | None = None
    end: datetime | None = None
    private_of: str | None = None
    until_seq: int | None = None


def micros(t: datetime) -> int:
    return (t - EPOCH) // MICRO


def where(f: AuditFilter) -> tuple[list[str], dict]:
    clauses, params = [], {}

    def add(clause: str, **values) -> None:
        clauses.append(clause)
        params.update(values)

    if f.tenant is not None:
        add("tenant = {tenant:String}", tenant=f.tenant)
    if f.actor:
        who, _, credential = f.actor.partition("#")
        add("actor = {actor:String}", actor=who)
        if credential:
            add("credential = {credential:String}", credential=credential)
    if f.aggregate:
        add("aggregate = {aggregate:String}", aggregate=f.aggregate)
    if f.aggregate_id:
        add("aggregate_id = {object:String}", object=f.aggregate_id)
    if f.types:
        add("type IN {types:Array(String)}", types=list(f.types))
    if f.start is not None:
        add("time >= fromUnixTimestamp64Micro({start:Int64}, 'UTC')", start=micros(f.start))
    if f.end is not None:
        add("time < fromUnixTimestamp64Micro({end:Int64}, 'UTC')", end=micros(f.end))
    if f.private_of is not None:
        add("(aggregate != 'token' OR actor = {me:String})", me=split_actor(f.private_of)[0])
    if f.until_seq is not None:
        add("seq <= {until:UInt64}", until=f.until_seq)
    return clauses, params


def audit_page(client, db: str, f: AuditFilter, page_size: int, cursor: str | None = None
               ) -> tuple[list[dict], str | None]:
    clauses, params = where(f)
    after = _cursor(cursor)
    if after is not None:
        clauses.append("(time, seq) < (fromUnixTimestamp64Micro({c_time:Int64}, 'UTC'), {c_seq:UInt64})")
        params.update(c_time=after[0], c_seq=after[1])
    sql = (f"SELECT {', '.join(COLUMNS)} FROM {db}.audit_events FINAL WHERE {' AND '.join(clauses) or '1'} "
           f"ORDER BY time DESC, seq DESC LIMIT {int(page_size) + 1}")
    try:
        rows = client.query(sql, parameters=params or None).result_rows
    except Exception as exc:  # the engine's errors, whatever their class: the caller answers 503
        raise AuditUnavailable(f"{type(exc).__name__}: {exc}") from exc
    items = [item(row) for row in rows[:page_size]]
    more = len(rows) > page_size
    return items, encode_cursor((rows[page_size - 1][1], rows[page_size - 1][0])) if more else None


def item(row: tuple) -> dict:
    seq, t, tenant, actor, credential, aggregate, aggregate_id, type_, event_id, version, causation, corr, data = row
    return {"seq": int(seq), "id": event_id, "time": EPOCH + int(t) * MICRO, "tenant": tenant, "type": type_,
            "actor": actor, "credential": credential or None, "causation": causation or None,
            "correlation": corr, "aggregate": aggregate, "aggregate_id": aggregate_id, "version": int(version),
            "data": orjson.loads(data)}


def _cursor(cursor: str | None) -> tuple[int, int] | None:
    key = decode_cursor(cursor)
    if key is None:
        return None
    if len(key) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in key):
        raise InvalidQuery("cursor", "malformed cursor")
    return key[0], key[1]
