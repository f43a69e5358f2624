"""Projections: views of the log, each with a tracked position.

- `projections.registry`: in-memory read models (clusters, nodes, jobs) for the
  gateway's list/get, rebuilt by every replica from `EVT`.
- `projections.clickhouse`: analytical tables (job events, GPU usage intervals,
  node samples, hourly rollups) written through clickhouse-connect.
- `projections.runner`: follows `EVT` from a projection's stored position and
  applies batches; `rebuild()` starts from zero.

Every projection stores the last stream sequence it applied together with its
effect, so redelivery and replay never apply an event twice (`tracking`).
"""
