"""Insert blocks: a table's rows as one JSONCompactColumns body, checked like the native format would be.

Serialising rows column by column in Python (clickhouse-connect's Native
writer) cost more than building the rows; orjson writes the same columns in
one C call and ClickHouse parses them natively. What the JSON parser would
let through silently is checked here first, so a bad value is still a data
error naming its column (dead-lettered by the sink), never a changed value:
- integers out of their column's range (the parser wraps them: 2**40 -> 0);
- null in a non-Nullable column (sent with `input_format_null_as_default=0`).
Decimals are written in fixed-point notation, times as RFC 3339 UTC strings
(parsed with `date_time_input_format=best_effort`; the converters already
truncated them to the millisecond).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal

import orjson

FORMAT = "JSONCompactColumns"
SETTINGS = {"date_time_input_format": "best_effort", "input_format_null_as_default": 0}
RANGES = {"UInt8": (0, 2**8 - 1), "UInt16": (0, 2**16 - 1), "UInt32": (0, 2**32 - 1), "UInt64": (0, 2**64 - 1),
          "Int8": (-2**7, 2**7 - 1), "Int16": (-2**15, 2**15 - 1), "Int32": (-2**31, 2**31 - 1),
          "Int64": (-2**63, 2**63 - 1)}
_WRAPPER = re.compile(r"^(?:LowCardinality|Nullable)\((.*)\)$")


def encode(columns: Sequence[str], types: Sequence[str], rows: Sequence[tuple]) -> bytes:
    """The body of `INSERT INTO t (columns) FORMAT JSONCompactColumns`; ValueError names a bad column."""
    data = [list(values) for values in zip(*rows)]
    for i, (name, kind) in enumerate(zip(columns, types)):
        nullable = "Nullable(" in kind
        base = _base(kind)
        values = data[i]
        present = [v for v in values if v is not None] if nullable else values
        if not nullable and None in values:
            raise ValueError(f"{name}: null in a {kind} column")
        if base in RANGES:
            _check_range(name, kind, RANGES[base], present)
        elif base.startswith("Decimal"):
            data[i] = [None if v is None else format(v, "f") if isinstance(v, Decimal) else v for v in values]
        elif base == "Array(Tuple(String, String, UInt32))":  # usage intervals' per-node GPUs
            _check_range(name, kind, RANGES["UInt32"], [g for nodes in values for *_, g in nodes])
    return orjson.dumps(data, option=orjson.OPT_UTC_Z)


def _base(kind: str) -> str:
    while (match := _WRAPPER.match(kind)) is not None:
        kind = match[1]
    return kind


def _check_range(name: str, kind: str, bounds: tuple[int, int], values: Sequence) -> None:
    if not values:
        return
    low, high = min(values), max(values)
    if low < bounds[0] or high > bounds[1]:
        bad = low if low < bounds[0] else high
        raise ValueError(f"{name}: {bad} is out of range for {kind}")
