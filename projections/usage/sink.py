"""The USAGE projection: rates each usage record and stores it in ClickHouse, exactly once.

Fed by a ProjectionRunner over the USAGE stream (stream="USAGE"), in stream
order. Per batch:
1. Records at or below the projection's position (the `projection_tracking`
   row, written after the rows) are dropped: redelivery and replay are no-ops.
2. Rows are built by the pure converters (convert.py) from a draft of the
   dedupe state (`Seen`: record ids already stored), so a record id seen
   before, in an earlier batch or earlier in this one, adds no row.
3. Each raw table gets one insert (a JSONCompactColumns block) of the rows
   whose `seq` is above THAT table's position: the highest `seq` it holds,
   read at setup. A crash after some tables' inserts and before the tracking
   row therefore re-inserts nothing: each table resumes from its own rows.
   The materialized views fill the rollups in the same insert; `setup()`
   rebuilds a rollup whose `last_seq` differs from its raw table's (a crash
   between the two parts of one insert).
4. Then the tracking row. On a data error the batch is stored again record by
   record; a record that still fails goes to `on_rejected` and is skipped.
ClickHouseUnavailable propagates with nothing advanced: the runner retries.
"""

from __future__ import annotations

from collections.abc import Callable

from adapters.clickhouse import ClickHouseUnavailable, classify
from projections.clickhouse import blocks
from projections.clickhouse.sink import Rejected
from projections.tracking import Batch, unseen
from projections.usage import schema
from projections.usage.convert import Seen, batch_rows, key, mark, rows_for
from projections.usage.ratecards import RateCards
from projections.usage.rating import Rater


class UsageSink:
    blocking = True  # the runner calls it from a worker thread

    def __init__(self, client, cards: RateCards, *, database: str = "tessera", name: str = "usage",
                 period: str = "monthly", on_rejected: Callable[[Rejected], None] | None = None) -> None:
        self.client = client
        self.db = database
        self.name = name
        self.period = period
        self.rater = Rater(cards)
        self.rejected: list[Rejected] = []
        self.on_rejected = on_rejected or self.rejected.append
        self.seen = Seen()
        self.positions: dict[str, int] = {t: 0 for t in schema.RAW}
        self._position = 0
        self._types: dict[str, list[str]] = {}

    def setup(self) -> UsageSink:
        """Create the tables (idempotent); recover positions, the dedupe state, and stale rollups."""
        self._call(schema.create, self.client, self.db)
        self._types = self._call(schema.column_types, self.client, self.db)
        self._position = self._call(self._scalar, f"SELECT max(seq) FROM {self.db}.projection_tracking "
                                                  "WHERE name = {n:String}", {"n": self.name})
        for table in schema.RAW:
            self.positions[table] = self._call(self._scalar, f"SELECT max(seq) FROM {self.db}.{table}")
        for rollup, raw in schema.ROLLUP_OF.items():
            if self._call(self._scalar, f"SELECT max(last_seq) FROM {self.db}.{rollup}") != self.positions[raw]:
                self._call(self.client.command, f"TRUNCATE TABLE {self.db}.{rollup}")
                self._call(self.client.command, schema.rebuild(self.db, rollup))
        self.seen = Seen(self._keys("inference_requests", "request_id"), self._keys("rated_usage", "record_id"))
        return self

    def position(self) -> int:
        return self._position

    def reset(self) -> None:
        for table in (*schema.RAW, *schema.ROLLUP_OF):
            self._call(self.client.command, f"TRUNCATE TABLE IF EXISTS {self.db}.{table}")
        self._call(self.client.command, f"DELETE FROM {self.db}.projection_tracking WHERE name = {{n:String}}",
                   parameters={"n": self.name})
        self._position, self.seen = 0, Seen()
        self.positions = {t: 0 for t in schema.RAW}

    def apply_batch(self, batch: Batch) -> int:
        todo = unseen(batch, self._position)
        if not todo:
            return 0
        seen = self.seen.draft()
        try:
            self._insert(batch_rows(todo, seen, self.rater, self.period))
        except ClickHouseUnavailable:
            raise
        except Exception:  # a value ClickHouse refuses, or a converter failing on one record
            seen = self._one_by_one(todo)
        self._call(self.client.insert, f"{self.db}.projection_tracking", [(self.name, todo[-1][1])],
                   column_names=schema.COLUMNS["projection_tracking"],
                   column_type_names=self._types["projection_tracking"])
        self.seen, self._position = seen.commit(), todo[-1][1]
        return len(todo)

    def _one_by_one(self, todo) -> Seen:
        seen = self.seen.draft()
        for env, seq in todo:
            try:
                self._insert(rows_for(env, seq, seen, self.rater, self.period))
            except ClickHouseUnavailable:
                raise
            except Exception as exc:
                self.on_rejected(Rejected(seq, env, f"{type(exc).__name__}: {exc}"))
                continue
            mark(env, seen)
        return seen

    def _insert(self, tables: dict[str, list[tuple]]) -> None:
        for table, rows in tables.items():
            floor = self.positions[table]
            rows = [r for r in rows if r[0] > floor]
            if not rows:
                continue
            body = self._call(blocks.encode, schema.COLUMNS[table], self._types[table], rows)
            self._call(self.client.raw_insert, f"{self.db}.{table}", schema.COLUMNS[table], body,
                       fmt=blocks.FORMAT, settings=blocks.SETTINGS)
            self.positions[table] = rows[-1][0]

    def _keys(self, table: str, column: str) -> set[str]:
        rows = self._call(self.client.query, f"SELECT DISTINCT tenant, {column} FROM {self.db}.{table}").result_rows
        return {key(t, r) for t, r in rows}

    def _scalar(self, sql: str, parameters: dict | None = None) -> int:
        return int(self.client.query(sql, parameters=parameters).result_rows[0][0] or 0)

    @staticmethod
    def _call(fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            raise classify(exc) from exc
