"""/v1/usage: GPU-seconds per tenant, job, GPU model or day, from ClickHouse (usage.py).

Scoped like every read: a caller sees their own tenant's usage; a platform
admin every tenant's (or `?tenant=`). Without a ClickHouse client the route
answers 503 `usage_unavailable`, as it does when the engine fails. A period
outside ClickHouse's DateTime range (1970..2106) is the caller's error: 422.

Under `?as_of=N` (gateway/http/asof.py): from database `tessera_asof_<N>`
when `tessera replay --until-seq N` built it, else from the live intervals
closed at or before EVT sequence N (`end_seq <= N`, split at hours as the
rollup does: `usage_until`), which is exact: an interval counts once closed,
and its row never changes after. 503 while the live projection has not
stored N yet (asof_clickhouse.py).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from decimal import Decimal
from functools import partial
from typing import Literal

from fastapi import APIRouter, Depends, Query

from gateway.http import timerange
from gateway.http.asof_clickhouse import source
from gateway.http.auth import Caller, reader
from gateway.http.docs import errors
from gateway.http.errors import ApiError
from gateway.http.models import UsageOut
from gateway.http.services import Services
from gateway.http.usage import UsageUnavailable, usage, usage_until

log = logging.getLogger("tessera.gateway")
HOUR = Decimal(3600)


def router(s: Services) -> APIRouter:
    r = APIRouter(prefix="/v1/usage", tags=["usage"])

    @r.get("", response_model=UsageOut, summary="GPU usage per tenant, job, GPU model or day",
           description="Closed usage intervals only; `from`/`to` are cut at whole UTC hours.",
           responses=errors(409, 422, 503))
    async def get_usage(caller: Caller = Depends(reader("usage:read")),
                        group_by: Literal["tenant", "job", "gpu_model", "day"] = "tenant",
                        job: str | None = None, gpu_model: str | None = None,
                        start: datetime | None = Query(None, alias="from", description="ISO 8601, inclusive"),
                        end: datetime | None = Query(None, alias="to", description="ISO 8601, exclusive")) -> dict:
        timerange.check(start, end)
        if s.clickhouse is None:
            raise ApiError("usage is not available: this gateway has no ClickHouse", code="usage_unavailable",
                           status=503)
        db, until = await source(s, tables=("gpu_usage_hourly",), live_exact=True, what="usage",
                                 code="usage_unavailable")
        query = usage if until is None else partial(usage_until, until=until)
        try:
            rows = await asyncio.to_thread(query, s.clickhouse, db, group_by, tenant=caller.scope,
                                           job=job, gpu_model=gpu_model, start=start, end=end)
        except UsageUnavailable as exc:
            log.warning("usage query failed: %s", exc)
            raise ApiError("usage is not available right now; try again", code="usage_unavailable",
                           status=503) from None
        items = [{"key": row.key, "gpu_seconds": str(row.gpu_seconds),
                  "gpu_hours": str((row.gpu_seconds / HOUR).quantize(Decimal("0.000001"))), "jobs": row.jobs}
                 for row in rows]
        return {"group_by": group_by, "tenant": caller.scope, "items": items}

    return r
