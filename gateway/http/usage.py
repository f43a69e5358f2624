"""GPU usage for /v1/usage, from ClickHouse's hourly rollup (projections/clickhouse).

`usage(client, db, group_by, tenant, job, gpu_model, start, end)` sums the
GPU-milliseconds of closed usage intervals per group (tenant, job, GPU model
or UTC day), from `gpu_usage_hourly`: intervals are already split at hour
boundaries there and de-duplicated (set-valued states), so the sums are exact
under redelivery and replay, and a period (`start`/`end`) is cut at whole
hours. `usage_until(..., until=N)` answers the same as of EVT sequence N
(time travel) from the raw intervals closed by then, split at hours as the
rollup splits them. Blocking (clickhouse-connect): call them in a worker
thread. Any engine error is `UsageUnavailable` (the gateway answers 503
usage_unavailable).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

GROUPS = {"tenant": "tenant", "job": "part.1", "gpu_model": "gpu_model", "day": "toString(toDate(hour))"}


class UsageUnavailable(Exception):
    pass


@dataclass(frozen=True)
class UsageRow:
    key: str
    gpu_seconds: Decimal
    jobs: int


def usage(client, db: str, group_by: str, *, tenant: str | None = None, job: str | None = None,
          gpu_model: str | None = None, start: datetime | None = None, end: datetime | None = None) -> list[UsageRow]:
    if group_by not in GROUPS:
        raise ValueError(f"group_by must be one of {', '.join(GROUPS)}")
    inner, outer, params = _filters(tenant, gpu_model, start, end, job, job_column="part.1")
    return _rows(client, (
        f"SELECT {GROUPS[group_by]} AS k, sum(part.3) AS ms, uniqExact(part.1) AS jobs FROM ("
        f"SELECT tenant, gpu_model, hour, groupUniqArrayMerge(parts) AS ps FROM {db}.gpu_usage_hourly "
        f"WHERE {' AND '.join(inner)} GROUP BY tenant, gpu_model, hour"
        f") ARRAY JOIN ps AS part WHERE {' AND '.join(outer)} GROUP BY k ORDER BY k"), params)


def usage_until(client, db: str, group_by: str, until: int, *, tenant: str | None = None, job: str | None = None,
                gpu_model: str | None = None, start: datetime | None = None, end: datetime | None = None
                ) -> list[UsageRow]:
    """`usage` as of EVT sequence `until`: the raw intervals closed by then, split at hours as the rollup does."""
    if group_by not in GROUPS:
        raise ValueError(f"group_by must be one of {', '.join(GROUPS)}")
    inner, _, params = _filters(tenant, gpu_model, None, None, None, job_column="job_id")
    hours, jobs, more = _filters(None, None, start, end, job, job_column="job_id")  # on the split rows
    inner += ["closed = 1", "end > start", "end_seq <= {until:UInt64}"]
    key = {"job": "job_id"}.get(group_by, GROUPS[group_by])
    return _rows(client, (
        f"SELECT {key} AS k, sum(ms), uniqExact(job_id) FROM ("
        "SELECT tenant, gpu_model, job_id, toDateTime(h * 3600, 'UTC') AS hour, "
        "toUInt64(gpus * (least(e, (h + 1) * 3600000) - greatest(s, h * 3600000))) AS ms FROM ("
        "SELECT tenant, gpu_model, job_id, gpus, toInt64(toUnixTimestamp64Milli(start)) AS s, "
        "toInt64(toUnixTimestamp64Milli(end)) AS e, arrayJoin(range(intDiv(s, 3600000), intDiv(e - 1, 3600000) + 1)) "
        f"AS h FROM {db}.gpu_usage_intervals FINAL WHERE {' AND '.join(inner)})"
        f") WHERE {' AND '.join(hours + jobs[1:])} GROUP BY k ORDER BY k"), {**params, **more, "until": until})


def _filters(tenant: str | None, gpu_model: str | None, start: datetime | None, end: datetime | None,
             job: str | None, *, job_column: str) -> tuple[list[str], list[str], dict]:
    """(clauses on tenant/GPU model/hour, clauses on the job, parameters)."""
    inner, outer, params = ["1"], ["1"], {}
    if tenant is not None:
        inner.append("tenant = {tenant:String}")
        params["tenant"] = tenant
    if gpu_model is not None:
        inner.append("gpu_model = {gpu_model:String}")
        params["gpu_model"] = gpu_model
    if start is not None:
        inner.append("hour >= toStartOfHour(toDateTime({start:DateTime64(3, 'UTC')}, 'UTC'))")
        params["start"] = start
    if end is not None:
        inner.append("hour < toDateTime({end:DateTime64(3, 'UTC')}, 'UTC')")
        params["end"] = end
    if job is not None:
        outer.append(f"{job_column} = {{job:String}}")
        params["job"] = job
    return inner, outer, params


def _rows(client, sql: str, params: dict) -> list[UsageRow]:
    try:
        rows = client.query(sql, parameters=params or None).result_rows
    except Exception as exc:  # the engine's errors, whatever their class: the caller answers 503
        raise UsageUnavailable(f"{type(exc).__name__}: {exc}") from exc
    return [UsageRow(str(k), Decimal(int(ms)) / 1000, int(n)) for k, ms, n in rows]
