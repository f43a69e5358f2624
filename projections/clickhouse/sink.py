"""The ClickHouse projection: converts a batch of events to rows and stores rows, then tracking.

Per batch (events in stream order, from projections.runner):
1. Events at or below the stored position are dropped (redelivery, replay).
2. Rows for every table are built from a copy of the converter state
   (state.py); the live state only moves once the batch is stored.
3. Rows are inserted table by table, then the tracking row (name, last seq).
   A crash in between re-inserts the same rows on restart: the tables absorb
   twins (ReplacingMergeTree by sequence, set-valued rollups; schema.py), and
   the state is reloaded as of the tracked position, so nothing counts twice.
4. On a data error (ClickHouse refuses a value, or a converter fails on an
   event) the batch is stored again event by event; each event that still
   fails is handed to `on_rejected` (dead-lettering) and skipped, the others
   are stored, and the position moves past all of them.
A transient error (ClickHouseUnavailable) propagates with nothing advanced:
the caller retries the batch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from adapters.clickhouse import ClickHouseDataError, ClickHouseUnavailable, classify
from projections.clickhouse import gpu_usage, job_events, node_samples, schema, state
from projections.tracking import Batch, unseen
from schemas import Envelope

TABLES = ("job_events", "gpu_usage_intervals", "node_samples")


@dataclass(frozen=True)
class Rejected:
    seq: int
    envelope: Envelope
    error: str


def rows_for(env: Envelope, seq: int, st: state.UsageState) -> dict[str, list[tuple]]:
    return {
        "job_events": job_events.to_rows(env, seq),
        "gpu_usage_intervals": gpu_usage.to_rows(env, seq, st),
        "node_samples": node_samples.to_rows(env, seq, st),
    }


class ClickHouseSink:
    blocking = True  # the runner calls it from a worker thread
    aggregates = frozenset({"node", "job"})

    def __init__(self, client, *, database: str = "tessera", name: str = "clickhouse",
                 on_rejected: Callable[[Rejected], None] | None = None) -> None:
        self.client = client
        self.db = database
        self.name = name
        self.rejected: list[Rejected] = []
        self.on_rejected = on_rejected or self.rejected.append
        self._position = 0
        self.state = state.UsageState()

    def setup(self) -> ClickHouseSink:
        """Create the tables (idempotent) and recover position and converter state."""
        self._call(schema.create, self.client, self.db)
        self._position = self._call(self.stored_position)
        self.state = self._call(state.load, self.client, self.db, self._position)
        return self

    def position(self) -> int:
        return self._position

    def reset(self) -> None:
        """Empty every table of this projection and forget its position (a rebuild from zero follows)."""
        for table in (*TABLES, *schema.ROLLUPS):
            self._call(self.client.command, f"TRUNCATE TABLE IF EXISTS {self.db}.{table}")
        self._call(self.client.command, f"DELETE FROM {self.db}.projection_tracking WHERE name = {{n:String}}",
                   parameters={"n": self.name})
        self._position, self.state = 0, state.UsageState()

    def stored_position(self) -> int:
        result = self.client.query(f"SELECT max(seq) FROM {self.db}.projection_tracking WHERE name = {{n:String}}",
                                   parameters={"n": self.name})
        return int(result.result_rows[0][0] or 0)

    def apply_batch(self, batch: Batch) -> int:
        todo = unseen(batch, self._position)
        if not todo:
            return 0
        st = self.state.copy()
        try:
            tables: dict[str, list[tuple]] = {t: [] for t in TABLES}
            for env, seq in todo:
                for table, rows in rows_for(env, seq, st).items():
                    tables[table] += rows
                state.advance(st, env, seq)
            self._insert(tables)
        except ClickHouseUnavailable:
            raise
        except Exception:  # a value ClickHouse refuses, or a converter failing on one event
            st = self._one_by_one(todo)
        self._call(self.client.insert, f"{self.db}.projection_tracking", [(self.name, todo[-1][1])],
                   column_names=schema.COLUMNS["projection_tracking"])
        self.state, self._position = st, todo[-1][1]
        return len(todo)

    def _one_by_one(self, todo: list[tuple[Envelope, int]]) -> state.UsageState:
        st = self.state.copy()
        for env, seq in todo:
            try:
                self._insert(rows_for(env, seq, st))
            except ClickHouseUnavailable:
                raise
            except Exception as exc:
                self.on_rejected(Rejected(seq, env, f"{type(exc).__name__}: {exc}"))
                continue
            state.advance(st, env, seq)
        return st

    def _insert(self, tables: dict[str, list[tuple]]) -> None:
        for table, rows in tables.items():
            if rows:
                self._call(self.client.insert, f"{self.db}.{table}", rows, column_names=schema.COLUMNS[table])

    @staticmethod
    def _call(fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            raise classify(exc) from exc


__all__ = ["ClickHouseDataError", "ClickHouseSink", "Rejected", "rows_for"]
