"""ClickHouse projections: job events, GPU usage intervals, node samples and hourly rollups.

Pure converters (`job_events.to_rows`, `gpu_usage.to_rows`, `node_samples.to_rows`)
turn one event into rows; `sink.ClickHouseSink` stores a batch's rows and the
tracking position; `schema` holds the DDL; `queries` the read side. The client
comes from `adapters.clickhouse.client` (chdb in-process by default).
"""

from projections.clickhouse.sink import ClickHouseSink, Rejected

__all__ = ["ClickHouseSink", "Rejected"]
