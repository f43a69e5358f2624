"""ClickHouse through clickhouse-connect: embedded chdb by default, a server when configured.

`client(target)` picks the engine:
- `TESSERA_CLICKHOUSE_URL` (or a URL passed in: `http://...`, `https://...`,
  `clickhouse://...`) -> a ClickHouse server over HTTP;
- otherwise chdb in-process (`interface="chdb"`, the same SQL engine), stored
  under `<TESSERA_HOME>/clickhouse` (or the path / `chdb://` DSN passed in).
Nothing is read at import time; a `bus.settings.Settings` (for `home`) or an
explicit target is passed in at the composition root. chdb holds one engine
path per process: close a client before opening one on another path.

Errors are translated once, here (STYLE.md rule 9): `classify(exc)` returns a
`ClickHouseDataError` for data the engine will never accept (the caller
dead-letters the row) and a `ClickHouseUnavailable` for everything else worth
retrying (connection, timeouts, server errors).
"""

from __future__ import annotations

import os
import struct
from collections.abc import Mapping
from pathlib import Path

import clickhouse_connect
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import (
    DatabaseError,
    DataError,
    OperationalError,
)

from bus.settings import Settings

URL_ENV = "TESSERA_CLICKHOUSE_URL"
SERVER_SCHEMES = ("http://", "https://", "clickhouse://", "clickhouses://")


class ClickHouseError(Exception):
    """Base of the adapter's errors: callers never see clickhouse-connect's classes."""


class ClickHouseUnavailable(ClickHouseError):
    """Transient: retry the whole operation later."""


class ClickHouseDataError(ClickHouseError):
    """Permanent for this data: the engine rejects the values; dead-letter them."""


def client(target: Settings | str | Path | None = None, *, environ: Mapping[str, str] | None = None) -> Client:
    """A connected client; `ClickHouseUnavailable` if the server cannot be reached."""
    env = os.environ if environ is None else environ
    try:
        if isinstance(target, str) and target.startswith((*SERVER_SCHEMES, "chdb:")):
            return clickhouse_connect.get_client(dsn=target)
        if isinstance(target, (str, Path)):
            return _chdb(Path(target))
        if env.get(URL_ENV):
            return clickhouse_connect.get_client(dsn=env[URL_ENV])
        settings = target if target is not None else Settings.load(env)
        return _chdb(Path(settings.home) / "clickhouse")
    except Exception as exc:
        raise classify(exc) from exc


def _chdb(path: Path) -> Client:
    path.mkdir(parents=True, exist_ok=True)
    return clickhouse_connect.get_client(interface="chdb", path=str(path))


DATA_ERRORS = (DataError, ValueError, TypeError, OverflowError, struct.error)


def classify(exc: BaseException) -> ClickHouseError:
    """The adapter's view of a clickhouse-connect (or value conversion) failure."""
    if isinstance(exc, ClickHouseError):
        return exc
    if isinstance(exc, DATA_ERRORS):
        return ClickHouseDataError(f"{type(exc).__name__}: {exc}")
    if isinstance(exc, (OperationalError, DatabaseError, OSError)):
        return ClickHouseUnavailable(f"{type(exc).__name__}: {exc}")
    return ClickHouseUnavailable(f"{type(exc).__name__}: {exc}")
