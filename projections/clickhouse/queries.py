"""Read-side queries over the projection tables: what dashboards and tests ask.

All of them are exact under redelivery and replay: raw tables are read with
FINAL, rollups merge their set-valued states (schema.py). GPU-seconds come
back as `Decimal` (integer milliseconds / 1000).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal


def gpu_seconds_by_hour(client, db: str, tenant: str | None = None) -> list[tuple[str, str, datetime, Decimal]]:
    """(tenant, gpu_model, hour, GPU-seconds) from the hourly rollup, ordered."""
    where = "WHERE tenant = {t:String}" if tenant else ""
    result = client.query(
        f"SELECT tenant, gpu_model, hour, arraySum(x -> x.3, groupUniqArrayMerge(parts)) AS gpu_ms "
        f"FROM {db}.gpu_usage_hourly {where} GROUP BY tenant, gpu_model, hour ORDER BY tenant, gpu_model, hour",
        parameters={"t": tenant} if tenant else None)
    return [(t, m, h, Decimal(int(v)) / 1000) for t, m, h, v in result.result_rows]


def gpu_seconds_by_tenant(client, db: str) -> dict[tuple[str, str], Decimal]:
    """(tenant, gpu_model) -> GPU-seconds of closed intervals, from the raw intervals."""
    result = client.query(
        f"SELECT tenant, gpu_model, sum(gpu_seconds) FROM {db}.gpu_usage_intervals FINAL WHERE closed = 1 "
        "GROUP BY tenant, gpu_model")
    return {(t, m): Decimal(v) for t, m, v in result.result_rows}


def job_event_counts(client, db: str) -> dict[tuple[str, str], int]:
    """(tenant, event type) -> number of distinct events, from the hourly rollup."""
    result = client.query(
        f"SELECT tenant, type, sum(n) FROM (SELECT tenant, type, hour, uniqExactMerge(events) AS n "
        f"FROM {db}.job_events_hourly GROUP BY tenant, type, hour) GROUP BY tenant, type")
    return {(t, ty): int(n) for t, ty, n in result.result_rows}


def job_event_rows(client, db: str) -> int:
    return int(client.query(f"SELECT count() FROM {db}.job_events FINAL").result_rows[0][0])


def node_use(client, db: str) -> dict[tuple[str, str], tuple[int, int]]:
    """(cluster, node) -> (GPUs total, GPUs used) from each node's latest sample (removed nodes left out)."""
    result = client.query(
        f"SELECT cluster, node, argMax(gpus_total, seq), argMax(gpus_used, seq), argMax(removed, seq) "
        f"FROM {db}.node_samples GROUP BY cluster, node")
    return {(c, n): (int(t), int(u)) for c, n, t, u, r in result.result_rows if not r}


def table_digest(client, db: str) -> str:
    """A deterministic digest of every raw table's deduplicated content (T7 for ClickHouse)."""
    parts = []
    for table, key in (("job_events", "seq"), ("gpu_usage_intervals", "tenant, job_id, start_seq"),
                       ("node_samples", "cluster, node, seq"), ("audit_events", "tenant, time, seq")):
        result = client.query(
            f"SELECT count(), groupBitXor(cityHash64(*)) FROM (SELECT * FROM {db}.{table} FINAL ORDER BY {key})")
        parts.append(f"{table}:{result.result_rows[0][0]}:{result.result_rows[0][1]}")
    return "|".join(parts)
