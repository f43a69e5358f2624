"""A batch of events as rows of every table: the converters run in stream order over one state.

`rows_for(envelope, seq, state)` is one event's rows per table (the pure
converters, as the one-by-one fallback uses them); `batch_rows(batch, state)`
is the same for a whole batch, moving `state` past each event, and calls only
the converters that can produce rows for an event's type (the others return
[] for it) and advances the state only for the types that move it.
"""

from __future__ import annotations

from collections.abc import Callable

from projections.clickhouse import (
    audit_events,
    gpu_usage,
    job_events,
    node_samples,
    state,
)
from schemas import Envelope
from schemas import fleet as f
from schemas import jobs as j

TABLES = ("job_events", "gpu_usage_intervals", "node_samples", "audit_events")


def rows_for(env: Envelope, seq: int, st: state.UsageState) -> dict[str, list[tuple]]:
    return {
        "job_events": job_events.to_rows(env, seq),
        "gpu_usage_intervals": gpu_usage.to_rows(env, seq, st),
        "node_samples": node_samples.to_rows(env, seq, st),
        "audit_events": audit_events.to_rows(env, seq),
    }


_USAGE = (j.JobPlaced, *state.ENDING)
_STATEFUL: dict[type, tuple[tuple[str, Callable], ...]] = {
    cls: tuple((table, convert) for table, convert, types in (
        ("gpu_usage_intervals", gpu_usage.to_rows, _USAGE),
        ("node_samples", node_samples.to_rows, (f.NodeRegistered, f.NodeRemoved, *_USAGE)),
    ) if cls in types)
    for cls in (f.NodeRegistered, f.NodeRemoved, *_USAGE)
}


def batch_rows(todo: list[tuple[Envelope, int]], st: state.UsageState) -> dict[str, list[tuple]]:
    """Every table's rows for `todo`, in order, moving `st` past each event (same rows as `rows_for`)."""
    tables: dict[str, list[tuple]] = {t: [] for t in TABLES}
    events, with_row, audit = tables["job_events"], job_events.ROW_STATUS, tables["audit_events"]
    for env, seq in todo:
        audit += audit_events.to_rows(env, seq)
        kind = type(env.data)
        if kind in with_row:
            events += job_events.to_rows(env, seq)
        stateful = _STATEFUL.get(kind)
        if stateful is not None:
            for table, convert in stateful:
                tables[table] += convert(env, seq, st)
            state.advance(st, env, seq)
    return tables
