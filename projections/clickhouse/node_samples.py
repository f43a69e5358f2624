"""`node_samples`: a node's GPU use each time it changes, derived from fleet and placement events.

Row: (seq, time, cluster, node, gpu_model, gpus_total, gpus_used, removed).
A sample is written when a node is registered (used 0) or removed (removed =
1), and for every node a placement takes GPUs on or gives them back on (one
row per node per event, keyed by (cluster, node, seq)). Utilisation over time
is `gpus_used / gpus_total` of the latest sample at or before an instant.

`to_rows(envelope, seq, state)` is pure: it reads node use and open intervals
from `state` (see state.py), as they were before the event.
"""

from __future__ import annotations

from projections.clickhouse.state import ENDING, UsageState, per_node
from projections.clickhouse.timestamps import ms
from schemas import Envelope
from schemas import fleet as f
from schemas import jobs as j


def to_rows(env: Envelope, seq: int, state: UsageState) -> list[tuple]:
    e = env.data
    if isinstance(e, f.NodeRegistered):
        return [(seq, ms(env.time), e.cluster, e.node.name, e.node.gpu_model or "", e.node.gpu_count, 0, 0)]
    if isinstance(e, f.NodeRemoved):
        use = state.nodes.get((e.cluster, e.node))
        return [] if use is None else [(seq, ms(env.time), e.cluster, e.node, use.gpu_model, use.total, use.used, 1)]
    if isinstance(e, j.JobPlaced):
        changes, sign = per_node(e.placements), +1
    elif isinstance(e, ENDING) and e.job_id in state.open:
        changes, sign = state.open[e.job_id].nodes, -1
    else:
        return []
    rows, t = [], ms(env.time)
    for cluster, node, gpus in changes:
        use = state.nodes.get((cluster, node))
        if use is not None:
            used = max(use.used + sign * gpus, 0)
            rows.append((seq, t, cluster, node, use.gpu_model, use.total, used, 0))
    return rows
