"""Which ClickHouse database answers a read `?as_of=N` (issue 6 item 4): exact, or a 409.

Routes that read ClickHouse (/v1/usage, /v1/usage/inference, /v1/usage/preview,
/v1/audit) call `await source(s, ...)` before querying; it answers
`Source(db, until)`:
- no as_of: the live database, `until=None` (the present, as before);
- the as-of database `tessera_asof_<N>` (built by `tessera replay --until-seq N`
  or `--until TIME`), when it holds the route's tables and its EVT projection
  stored every event up to N (a replay that completed; `covers`): exact,
  `until=None`;
- else, for tables whose rows carry the EVT sequence that made them final
  (`live_exact`: audit_events `seq`, gpu_usage_intervals `end_seq`), the live
  database with `until=N`: the route keeps rows at or below N, which is
  exact once the live projection has stored sequence N (if it has not yet:
  503 `<code>`, try again);
- else (USAGE-derived tables: their rows carry USAGE stream sequences, which
  say nothing about EVT sequence N) 409 `as_of_unavailable`, field `as_of`,
  naming the command that builds the past: never an answer from the present.
An engine or bus error while choosing is 503 `<code>` like the routes' own.
Blocking lookups run in a worker thread; one Direct Get per database behind N.
"""

from __future__ import annotations

import asyncio
import logging
from typing import NamedTuple

import orjson

from bus.errors import BusError
from gateway.http.asof import as_of_seq
from gateway.http.errors import ApiError
from gateway.http.services import Services
from projections.timetravel import asof_database

log = logging.getLogger("tessera.gateway")
TRACKER = "clickhouse"  # the EVT projection's name in projection_tracking (projections.clickhouse.sink)


class Source(NamedTuple):
    db: str
    until: int | None  # keep rows at or below this EVT sequence (None: the database is already the past)


def tracked(client, db: str) -> int | None:
    """The EVT projection's stored position in `db`, or None when `db` has no tracking table."""
    found = client.query("SELECT count() FROM system.tables WHERE database = {db:String} "
                         "AND name = 'projection_tracking'", parameters={"db": db}).result_rows[0][0]
    if not found:
        return None
    rows = client.query(f"SELECT max(seq) FROM {db}.projection_tracking WHERE name = {{n:String}}",
                        parameters={"n": TRACKER}).result_rows
    return int(rows[0][0] or 0)


def has_tables(client, db: str, tables: tuple[str, ...]) -> bool:
    rows = client.query("SELECT count() FROM system.tables WHERE database = {db:String} "
                        "AND name IN {names:Array(String)}", parameters={"db": db, "names": list(tables)})
    return int(rows.result_rows[0][0]) == len(tables)


def positions(client, live_db: str, seq: int, tables: tuple[str, ...]) -> tuple[int | None, bool, int | None]:
    """(the as-of database's EVT position, whether it has `tables`, the live database's EVT position)."""
    past = asof_database(seq)
    return tracked(client, past), has_tables(client, past, tables), tracked(client, live_db)


async def covers(nc, position: int | None, seq: int) -> bool:
    """Whether a projection stored at `position` has every event up to `seq`: its tracking row is the last
    event it stored, and the reactors' `trk.*` records that may follow it on EVT are no events."""
    if position is None:
        return False
    if position >= seq:
        return True
    reply = await nc.request("$JS.API.DIRECT.GET.EVT", orjson.dumps({"seq": position + 1, "next_by_subj": "evt.>"}),
                             timeout=5.0)
    status = (reply.headers or {}).get("Status") if not reply.data else None
    if status == "404":
        return True  # no event after `position` at all
    if status:
        raise BusError(f"direct get on EVT failed: status {status}")
    return int(reply.headers["Nats-Sequence"]) > seq


async def source(s: Services, *, tables: tuple[str, ...], live_exact: bool, what: str, code: str) -> Source:
    seq = as_of_seq()
    if seq is None:
        return Source(s.clickhouse_db, None)
    past = asof_database(seq)
    try:
        past_at, past_has, live_at = await asyncio.to_thread(positions, s.clickhouse, s.clickhouse_db, seq, tables)
        built = await covers(s.nc, past_at, seq)
        live = live_exact and not (built and past_has) and await covers(s.nc, live_at, seq)
    except Exception as exc:  # noqa: BLE001 - the engine's or the bus's errors, whatever their class: 503
        log.warning("as-of database lookup failed: %s", exc)
        raise ApiError(f"{what} is not available right now; try again", code=code, status=503) from None
    if built and past_has:
        return Source(past, None)
    if live:
        return Source(s.clickhouse_db, seq)
    if live_exact:
        raise ApiError(f"{what} has reached sequence {live_at or 0}, not {seq} yet; try again", code=code,
                       status=503)
    if built:
        raise ApiError(f"{what} as of sequence {seq} cannot be answered exactly: database {past} "
                       f"(`tessera replay --until-seq {seq}`) has no {', '.join(tables)}", field="as_of",
                       code="as_of_unavailable", status=409)
    raise ApiError(f"{what} as of sequence {seq} is not built (the live tables cannot answer the past "
                   f"exactly): build it with `tessera replay --until-seq {seq}` (database {past}), then ask again",
                   field="as_of", code="as_of_unavailable", status=409)
