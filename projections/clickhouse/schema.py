"""The ClickHouse tables of the projections, their columns, and the hourly rollups.

Idempotence is built into the tables, not only into the writer:
- Raw tables are ReplacingMergeTree keyed by stream sequence (or, for usage
  intervals, by the sequence that opened the interval with the closing
  sequence as version): a re-inserted row replaces its twin. Queries read them
  with FINAL (or argMax) so unmerged twins never count twice.
- Rollups are materialized views into AggregatingMergeTree tables whose states
  are sets (`groupUniqArray` of interval parts, `uniqExact` of sequences): a
  re-inserted row adds an element already in the set, so the rollup stays
  exact under redelivery and replay, with no FINAL needed.
- `projection_tracking` holds each projection's last stored sequence, written
  after its rows: a replay below it is skipped before any insert.

`audit_events` (every event of every aggregate) is keyed for its queries
(audit_query.py): tenant and time range by the sorting key, actor, object and
type by skip indexes; pages by (time, seq).

`create(client, database)` is idempotent (IF NOT EXISTS everywhere).
"""

from __future__ import annotations

COLUMNS: dict[str, tuple[str, ...]] = {
    "job_events": ("seq", "time", "tenant", "job_id", "type", "status", "gpu_model", "gpus", "nodes", "reason",
                   "exit_code"),
    "gpu_usage_intervals": ("tenant", "job_id", "start_seq", "end_seq", "gpu_model", "gpus", "start", "end",
                            "gpu_seconds", "closed", "end_reason", "nodes"),
    "node_samples": ("seq", "time", "cluster", "node", "gpu_model", "gpus_total", "gpus_used", "removed"),
    "audit_events": ("seq", "time", "tenant", "actor", "credential", "aggregate", "aggregate_id", "type", "event_id",
                     "version", "causation", "correlation", "data"),
    "projection_tracking": ("name", "seq"),
}

ROLLUPS = ("gpu_usage_hourly", "job_events_hourly")

DDL = """
CREATE TABLE IF NOT EXISTS {db}.job_events (
    seq UInt64, time DateTime64(3, 'UTC'), tenant LowCardinality(String), job_id String,
    type LowCardinality(String), status LowCardinality(String), gpu_model LowCardinality(String), gpus UInt32,
    nodes Array(String), reason String, exit_code Nullable(Int32)
) ENGINE = ReplacingMergeTree ORDER BY (tenant, job_id, seq);

CREATE TABLE IF NOT EXISTS {db}.gpu_usage_intervals (
    tenant LowCardinality(String), job_id String, start_seq UInt64, end_seq UInt64,
    gpu_model LowCardinality(String), gpus UInt32, start DateTime64(3, 'UTC'), end DateTime64(3, 'UTC'),
    gpu_seconds Decimal(20, 3), closed UInt8, end_reason LowCardinality(String),
    nodes Array(Tuple(String, String, UInt32))
) ENGINE = ReplacingMergeTree(end_seq) ORDER BY (tenant, job_id, start_seq);

CREATE TABLE IF NOT EXISTS {db}.node_samples (
    seq UInt64, time DateTime64(3, 'UTC'), cluster LowCardinality(String), node String,
    gpu_model LowCardinality(String), gpus_total UInt32, gpus_used UInt32, removed UInt8
) ENGINE = ReplacingMergeTree ORDER BY (cluster, node, seq);

CREATE TABLE IF NOT EXISTS {db}.audit_events (
    seq UInt64, time DateTime64(6, 'UTC'), tenant LowCardinality(String), actor String, credential String,
    aggregate LowCardinality(String), aggregate_id String, type LowCardinality(String), event_id String,
    version UInt64, causation String, correlation String, data String,
    INDEX actor_idx actor TYPE bloom_filter GRANULARITY 4,
    INDEX object_idx aggregate_id TYPE bloom_filter GRANULARITY 4,
    INDEX type_idx type TYPE set(256) GRANULARITY 4
) ENGINE = ReplacingMergeTree ORDER BY (tenant, time, seq);

CREATE TABLE IF NOT EXISTS {db}.projection_tracking (
    name String, seq UInt64
) ENGINE = ReplacingMergeTree(seq) ORDER BY name;

CREATE TABLE IF NOT EXISTS {db}.gpu_usage_hourly (
    tenant LowCardinality(String), gpu_model LowCardinality(String), hour DateTime('UTC'),
    parts AggregateFunction(groupUniqArray, Tuple(String, UInt64, UInt64))
) ENGINE = AggregatingMergeTree ORDER BY (tenant, gpu_model, hour);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.gpu_usage_hourly_mv TO {db}.gpu_usage_hourly AS
SELECT tenant, gpu_model, toDateTime(h * 3600, 'UTC') AS hour,
       groupUniqArrayState((job_id, start_seq, toUInt64(gpus * (least(e, (h + 1) * 3600000) - greatest(s, h * 3600000))))) AS parts
FROM (
    SELECT tenant, gpu_model, job_id, start_seq, gpus,
           toInt64(toUnixTimestamp64Milli(start)) AS s, toInt64(toUnixTimestamp64Milli(end)) AS e,
           arrayJoin(range(intDiv(s, 3600000), intDiv(e - 1, 3600000) + 1)) AS h
    FROM {db}.gpu_usage_intervals WHERE closed = 1 AND end > start
)
GROUP BY tenant, gpu_model, hour;

CREATE TABLE IF NOT EXISTS {db}.job_events_hourly (
    tenant LowCardinality(String), type LowCardinality(String), hour DateTime('UTC'),
    events AggregateFunction(uniqExact, UInt64)
) ENGINE = AggregatingMergeTree ORDER BY (tenant, type, hour);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.job_events_hourly_mv TO {db}.job_events_hourly AS
SELECT tenant, type, toStartOfHour(time) AS hour, uniqExactState(seq) AS events
FROM {db}.job_events GROUP BY tenant, type, hour;
"""


def statements(database: str) -> list[str]:
    return [s.strip() for s in DDL.format(db=database).split(";") if s.strip()]


def column_types(client, database: str) -> dict[str, list[str]]:
    """Each table's column type names in `COLUMNS` order, as the engine reports them."""
    result = client.query("SELECT table, name, type FROM system.columns WHERE database = {db:String}",
                          parameters={"db": database})
    found = {(table, name): kind for table, name, kind in result.result_rows}
    return {table: [found[(table, name)] for name in names] for table, names in COLUMNS.items()}


def missing(client, database: str) -> set[str]:
    """The raw tables (`COLUMNS`) that do not exist yet."""
    result = client.query("SELECT name FROM system.tables WHERE database = {db:String}", parameters={"db": database})
    return set(COLUMNS) - {name for (name,) in result.result_rows}


def create(client, database: str) -> None:
    client.command(f"CREATE DATABASE IF NOT EXISTS {database}")
    for statement in statements(database):
        client.command(statement)
