"""The ClickHouse projection: converts a batch of events to rows and stores rows, then tracking.

Per batch (events in stream order, from projections.runner):
1. Events at or below the stored position are dropped (redelivery, replay).
2. Rows for every table are built (rows.py) from a copy of the converter
   state (state.py); the live state only moves once the batch is stored.
3. Rows are inserted table by table (one JSON-columns block per table and
   batch, blocks.py; the runner hands over large batches while catching up),
   then the tracking row (name, last seq).
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
from projections.clickhouse import blocks, schema, state
from projections.clickhouse.rows import TABLES, batch_rows, rows_for
from projections.tracking import Batch, unseen
from schemas import Envelope


@dataclass(frozen=True)
class Rejected:
    seq: int
    envelope: Envelope
    error: str


class ClickHouseSink:
    blocking = True  # the runner calls it from a worker thread
    aggregates = None  # every aggregate: audit_events keeps them all (the other tables read node and job events)

    def __init__(self, client, *, database: str = "tessera", name: str = "clickhouse",
                 on_rejected: Callable[[Rejected], None] | None = None) -> None:
        self.client = client
        self.db = database
        self.name = name
        self.rejected: list[Rejected] = []
        self.on_rejected = on_rejected or self.rejected.append
        self._position = 0
        self._types: dict[str, list[str]] = {}
        self.state = state.UsageState()

    def setup(self) -> ClickHouseSink:
        """Create the tables (idempotent) and recover position and converter state.

        A table added since the position was stored (e.g. audit_events) would miss every event
        before it: the projection then starts over from sequence 1 (`reset`), like a rebuild.
        """
        added = self._call(schema.missing, self.client, self.db)
        self._call(schema.create, self.client, self.db)
        self._types = self._call(schema.column_types, self.client, self.db)
        self._position = self._call(self.stored_position)
        if self._position and added:
            self.reset()
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
            self._insert(batch_rows(todo, st))
        except ClickHouseUnavailable:
            raise
        except Exception:  # a value ClickHouse refuses, or a converter failing on one event
            st = self._one_by_one(todo)
        self._insert({"projection_tracking": [(self.name, todo[-1][1])]})
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
        """One insert per table: a JSONCompactColumns block (blocks.py), the tracking row natively."""
        for table, rows in tables.items():
            if not rows:
                continue
            columns = schema.COLUMNS[table]
            if table == "projection_tracking":
                self._call(self.client.insert, f"{self.db}.{table}", rows, column_names=columns,
                           column_type_names=self._types[table])
                continue
            body = self._call(blocks.encode, columns, self._types[table], rows)
            self._call(self.client.raw_insert, f"{self.db}.{table}", columns, body, fmt=blocks.FORMAT,
                       settings=blocks.SETTINGS)

    @staticmethod
    def _call(fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            raise classify(exc) from exc


__all__ = ["ClickHouseDataError", "ClickHouseSink", "Rejected", "rows_for"]
