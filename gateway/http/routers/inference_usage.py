"""/v1/usage/inference: inference requests and tokens per API key, model or minute, from ClickHouse.

Read from the USAGE projection's tables (projections/usage/schema.py):
`model` and `minute` from the per-minute rollup `inference_requests_minute`
(plain sums, exact: the sink never inserts a record twice); `key` from the
raw `inference_requests` FINAL (the rollup has no key column; FINAL reads a
redelivered record once). `from`/`to` cut at whole minutes (a request counts
in the minute it started). Scoped like /v1/usage: a caller sees their own
tenant; a platform admin every tenant (or `?tenant=`). Without ClickHouse, or
when the engine fails, 503 `usage_unavailable`; a bad period is 422 naming
`from`/`to`. Read-only: nothing here changes state.
Under `?as_of=N`: from database `tessera_asof_<N>` when it holds these
tables, else 409 `as_of_unavailable` (field `as_of`): USAGE rows carry USAGE
stream sequences, so the live tables cannot say what was there at EVT
sequence N (asof_clickhouse.py); never an answer from the present.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from gateway.http import timerange
from gateway.http.asof_clickhouse import source
from gateway.http.auth import Caller, reader
from gateway.http.docs import errors
from gateway.http.errors import ApiError
from gateway.http.services import Services

log = logging.getLogger("tessera.gateway")

# group -> (key expression, table, time column)
GROUPS = {
    "model": ("model", "inference_requests_minute", "minute"),
    "minute": ("formatDateTime(minute, '%Y-%m-%dT%H:%i:00Z', 'UTC')", "inference_requests_minute", "minute"),
    "key": ("key_id", "inference_requests FINAL", "time"),
}
SUMS = {
    "inference_requests_minute": "sum(requests), sum(errors), sum(prompt_tokens), sum(completion_tokens)",
    "inference_requests FINAL": "count(), countIf(outcome != 'ok'), sum(prompt_tokens), sum(completion_tokens)",
}


class InferenceUsageRow(BaseModel):
    key: str = Field(description="the group: API key id, model, or minute (ISO 8601, UTC)")
    requests: int
    errors: int = Field(description="requests whose outcome was not ok")
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class InferenceUsageOut(BaseModel):
    group_by: str
    tenant: str | None
    items: list[InferenceUsageRow]


def inference_usage(client, db: str, group_by: str, *, tenant: str | None, start: datetime | None,
                    end: datetime | None) -> list[InferenceUsageRow]:
    """The groups' sums, ordered by key. Blocking (clickhouse-connect): call it in a worker thread."""
    key, table, column = GROUPS[group_by]
    where, params = ["1"], {}
    if tenant is not None:
        where.append("tenant = {tenant:String}")
        params["tenant"] = tenant
    if start is not None:
        where.append(f"{column} >= toStartOfMinute(toDateTime({{start:DateTime64(3, 'UTC')}}, 'UTC'))")
        params["start"] = start
    if end is not None:
        where.append(f"{column} < toStartOfMinute(toDateTime({{end:DateTime64(3, 'UTC')}}, 'UTC'))")
        params["end"] = end
    sql = (f"SELECT {key} AS k, {SUMS[table]} FROM {db}.{table} WHERE {' AND '.join(where)} "
           "GROUP BY k ORDER BY k")
    rows = client.query(sql, parameters=params or None).result_rows
    return [InferenceUsageRow(key=str(k), requests=int(r), errors=int(e), prompt_tokens=int(p),
                              completion_tokens=int(c), total_tokens=int(p) + int(c)) for k, r, e, p, c in rows]


def router(s: Services) -> APIRouter:
    r = APIRouter(prefix="/v1/usage/inference", tags=["usage"])

    @r.get("", response_model=InferenceUsageOut, summary="Inference requests and tokens per API key, model or minute",
           description="From the USAGE projection's per-minute rollup (key: its raw requests); "
                       "`from`/`to` are cut at whole UTC minutes.",
           responses=errors(409, 422, 503))
    async def get_inference_usage(caller: Caller = Depends(reader("usage:read")),
                                  group_by: Literal["key", "model", "minute"] = "model",
                                  start: datetime | None = Query(None, alias="from", description="ISO 8601, inclusive"),
                                  end: datetime | None = Query(None, alias="to", description="ISO 8601, exclusive")
                                  ) -> dict:
        timerange.check(start, end)
        if s.clickhouse is None:
            raise ApiError("usage is not available: this gateway has no ClickHouse", code="usage_unavailable",
                           status=503)
        table = GROUPS[group_by][1].split()[0]
        db, _ = await source(s, tables=(table,), live_exact=False, what="inference usage", code="usage_unavailable")
        try:
            rows = await asyncio.to_thread(inference_usage, s.clickhouse, db, group_by,
                                           tenant=caller.scope, start=start, end=end)
        except Exception as exc:  # noqa: BLE001 - the engine's errors, whatever their class (e.g. no tables yet): 503
            log.warning("inference usage query failed: %s", exc)
            raise ApiError("usage is not available right now; try again", code="usage_unavailable",
                           status=503) from None
        return {"group_by": group_by, "tenant": caller.scope, "items": [row.model_dump() for row in rows]}

    return r
