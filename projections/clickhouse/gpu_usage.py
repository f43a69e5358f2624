"""`gpu_usage_intervals`: one interval per placement, from `JobPlaced` to the event that ends it.

A placement opens an interval (an open row: closed = 0, end = start); the
job's next requeue or terminal event closes it (a closed row with the same key
and a higher version, end_seq, so ReplacingMergeTree keeps the closed one).
Row: (tenant, job_id, start_seq, end_seq, gpu_model, gpus, start, end,
gpu_seconds, closed, end_reason, nodes). GPU-seconds are exact decimals from
whole milliseconds (`timestamps.gpu_seconds`). The hourly rollup view splits
closed intervals at hour boundaries (schema.py).

`to_rows(envelope, seq, state)` is pure: it reads the open intervals in
`state` (see state.py) and changes nothing.
"""

from __future__ import annotations

from projections.clickhouse.state import ENDING, OpenInterval, UsageState, opened
from projections.clickhouse.timestamps import gpu_seconds, ms
from schemas import Envelope
from schemas import jobs as j


def row(interval: OpenInterval, *, end_seq: int, end=None, end_reason: str = "") -> tuple:
    closed = end is not None
    start = ms(interval.start)
    stop = ms(end) if closed else start
    seconds = gpu_seconds(interval.gpus, start, stop)
    return (interval.tenant, interval.job_id, interval.start_seq, end_seq, interval.gpu_model, interval.gpus,
            start, stop, seconds, int(closed), end_reason, list(interval.nodes))


def to_rows(env: Envelope, seq: int, state: UsageState) -> list[tuple]:
    e = env.data
    if isinstance(e, j.JobPlaced):
        return [row(opened(env, seq), end_seq=seq)]
    if isinstance(e, ENDING):
        interval = state.open.get(e.job_id)
        if interval is not None:
            return [row(interval, end_seq=seq, end=env.time, end_reason=e.type_name())]
    return []
