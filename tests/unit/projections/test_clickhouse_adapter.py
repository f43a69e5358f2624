"""The ClickHouse adapter's error translation: data problems are permanent, the rest transient."""

from __future__ import annotations

import struct

import pytest
from clickhouse_connect.driver.exceptions import (
    DatabaseError,
    DataError,
    OperationalError,
)

from adapters.clickhouse import ClickHouseDataError, ClickHouseUnavailable, classify


@pytest.mark.parametrize("error, kind", [
    (DataError("cannot serialize column gpus"), ClickHouseDataError),
    (struct.error("argument out of range"), ClickHouseDataError),
    (ValueError("Invalid isoformat string"), ClickHouseDataError),
    (OperationalError("connection refused"), ClickHouseUnavailable),
    (DatabaseError("Code: 241. MEMORY_LIMIT_EXCEEDED"), ClickHouseUnavailable),
    (ConnectionResetError("reset by peer"), ClickHouseUnavailable),
])
def test_library_errors_become_data_errors_or_transient_errors(error, kind):
    translated = classify(error)
    assert isinstance(translated, kind) and str(error) in str(translated)
