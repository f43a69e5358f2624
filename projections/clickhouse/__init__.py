"""ClickHouse projections: job events, GPU usage intervals, node samples, hourly rollups, audit events.

Pure converters (`job_events.to_rows`, `gpu_usage.to_rows`, `node_samples.to_rows`,
`audit_events.to_rows`; `audit_query` reads the audit table)
turn one event into rows; `sink.ClickHouseSink` stores a batch's rows and the
tracking position; `schema` holds the DDL; `queries` the read side. The client
comes from `adapters.clickhouse.client` (chdb in-process by default).
"""

from projections.clickhouse.sink import ClickHouseSink, Rejected

__all__ = ["ClickHouseSink", "Rejected"]
