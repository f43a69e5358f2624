"""The USAGE projection's ClickHouse tables: inference requests, rated usage, and their rollups.

Raw tables carry the USAGE stream sequence of the record in every row (`seq`):
each table's position is the highest `seq` it holds, so the tables are their
own tracking (a row at or below it is never inserted again). Both are also
ReplacingMergeTree keyed by the record's id, so a twin that got in anyway is
read once with FINAL.

Rollups are materialized views into AggregatingMergeTree tables of plain sums
(and a latency quantile state): cheap to merge over 10M rows, exact because
the writer never inserts a row twice (sink.py). Each rollup row also keeps
`last_seq` (max of the rows rolled into it): a rollup whose `last_seq` differs
from its raw table's max `seq` (a crash between the raw part and the view's
part) is rebuilt from the raw table with `REBUILD` (the view's SELECT over
`FINAL`).

- inference_requests_minute: per tenant, model, minute: requests, errors,
  prompt/completion tokens, latency quantiles (quantilesTiming: deterministic,
  exact below 1,024 ms and 16 ms steps above).
- rated_usage_daily: per tenant, UTC day, line (kind, item, rate card version,
  currency, unit): records and exact quantity/amount sums. Billing periods
  (daily, weekly, monthly) are whole UTC days, so a period's preview is a sum
  of its days.
"""

from __future__ import annotations

COLUMNS: dict[str, tuple[str, ...]] = {
    "inference_requests": ("seq", "request_id", "time", "tenant", "key_id", "model", "endpoint", "stream", "outcome",
                           "status", "prompt_tokens", "completion_tokens", "estimated", "deployment", "attempts",
                           "latency_ms", "first_token_ms"),
    "rated_usage": ("seq", "record_id", "tenant", "source", "kind", "item", "key_id", "job_id", "time", "period",
                    "quantity", "unit", "scheme", "unit_price", "amount", "currency", "rate_card_version", "problem"),
    "projection_tracking": ("name", "seq"),
}
RAW = ("inference_requests", "rated_usage")
ROLLUP_OF = {"inference_requests_minute": "inference_requests", "rated_usage_daily": "rated_usage"}

TABLES = """
CREATE TABLE IF NOT EXISTS {db}.inference_requests (
    seq UInt64, request_id String, time DateTime64(3, 'UTC'), tenant LowCardinality(String), key_id String,
    model LowCardinality(String), endpoint LowCardinality(String), stream UInt8, outcome LowCardinality(String),
    status UInt16, prompt_tokens UInt32, completion_tokens UInt32, estimated UInt8, deployment String,
    attempts UInt16, latency_ms Float64, first_token_ms Nullable(Float64)
) ENGINE = ReplacingMergeTree ORDER BY (tenant, request_id);

CREATE TABLE IF NOT EXISTS {db}.rated_usage (
    seq UInt64, record_id String, tenant LowCardinality(String), source LowCardinality(String),
    kind LowCardinality(String), item LowCardinality(String), key_id String, job_id String,
    time DateTime64(3, 'UTC'), period LowCardinality(String), quantity Decimal(38, 9), unit LowCardinality(String),
    scheme LowCardinality(String), unit_price Decimal(38, 9), amount Decimal(38, 12),
    currency LowCardinality(String), rate_card_version UInt32, problem LowCardinality(String)
) ENGINE = ReplacingMergeTree ORDER BY (tenant, record_id, kind);

CREATE TABLE IF NOT EXISTS {db}.projection_tracking (
    name String, seq UInt64
) ENGINE = ReplacingMergeTree(seq) ORDER BY name;

CREATE TABLE IF NOT EXISTS {db}.inference_requests_minute (
    tenant LowCardinality(String), model LowCardinality(String), minute DateTime('UTC'),
    requests SimpleAggregateFunction(sum, UInt64), errors SimpleAggregateFunction(sum, UInt64),
    prompt_tokens SimpleAggregateFunction(sum, UInt64), completion_tokens SimpleAggregateFunction(sum, UInt64),
    latency AggregateFunction(quantilesTiming(0.5, 0.95), Float64),
    last_seq SimpleAggregateFunction(max, UInt64)
) ENGINE = AggregatingMergeTree ORDER BY (tenant, model, minute);

CREATE TABLE IF NOT EXISTS {db}.rated_usage_daily (
    tenant LowCardinality(String), day Date, kind LowCardinality(String), item LowCardinality(String),
    rate_card_version UInt32, currency LowCardinality(String), unit LowCardinality(String),
    records SimpleAggregateFunction(sum, UInt64), quantity SimpleAggregateFunction(sum, Decimal(38, 9)),
    amount SimpleAggregateFunction(sum, Decimal(38, 12)), last_seq SimpleAggregateFunction(max, UInt64)
) ENGINE = AggregatingMergeTree ORDER BY (tenant, day, kind, item, rate_card_version, currency, unit)
"""

SELECTS = {
    "inference_requests_minute": """
SELECT tenant, model, toStartOfMinute(time) AS minute, toUInt64(count()) AS requests,
       toUInt64(countIf(outcome != 'ok')) AS errors, toUInt64(sum(prompt_tokens)) AS prompt_tokens,
       toUInt64(sum(completion_tokens)) AS completion_tokens, quantilesTimingState(0.5, 0.95)(latency_ms) AS latency,
       max(seq) AS last_seq
FROM {source} GROUP BY tenant, model, minute""",
    "rated_usage_daily": """
SELECT tenant, toDate(time) AS day, kind, item, rate_card_version, currency, unit, toUInt64(count()) AS records,
       sum(quantity) AS quantity, sum(amount) AS amount, max(seq) AS last_seq
FROM {source} GROUP BY tenant, day, kind, item, rate_card_version, currency, unit""",
}


def statements(db: str) -> list[str]:
    tables = [s.strip() for s in TABLES.format(db=db).split(";") if s.strip()]
    views = [f"CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.{rollup}_mv TO {db}.{rollup} AS "
             + SELECTS[rollup].format(source=f"{db}.{raw}") for rollup, raw in ROLLUP_OF.items()]
    return tables + views


def rebuild(db: str, rollup: str) -> str:
    """The INSERT that refills `rollup` from its raw table (after a TRUNCATE)."""
    return f"INSERT INTO {db}.{rollup} " + SELECTS[rollup].format(source=f"{db}.{ROLLUP_OF[rollup]} FINAL")


def column_types(client, db: str) -> dict[str, list[str]]:
    result = client.query("SELECT table, name, type FROM system.columns WHERE database = {db:String}",
                          parameters={"db": db})
    found = {(table, name): kind for table, name, kind in result.result_rows}
    return {table: [found[(table, name)] for name in names] for table, names in COLUMNS.items()}


def create(client, db: str) -> None:
    client.command(f"CREATE DATABASE IF NOT EXISTS {db}")
    for statement in statements(db):
        client.command(statement)
