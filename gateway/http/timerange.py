"""A read's `from`/`to` query parameters: aware times, within what the ClickHouse column holds, in order.

`check(start, end, latest)` raises `Invalid` naming `from` or `to`: a time
without a zone, a time outside [1970-01-01, `latest`) (the engine fails
outside its column's range: `DATETIME` for DateTime columns, `DATETIME64`
for DateTime64), or `to` not after `from`.
"""

from __future__ import annotations

from datetime import UTC, datetime

from gateway.http.errors import Invalid

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
DATETIME = datetime(2106, 1, 1, tzinfo=UTC)
DATETIME64 = datetime(2200, 1, 1, tzinfo=UTC)


def check(start: datetime | None, end: datetime | None, latest: datetime = DATETIME) -> None:
    for name, value in (("from", start), ("to", end)):
        if value is not None and value.tzinfo is None:
            raise Invalid([(name, "needs a timezone (e.g. 2026-03-01T00:00:00Z)")])
        if value is not None and not EARLIEST <= value < latest:
            raise Invalid([(name, f"must be between 1970-01-01T00:00:00Z and {latest:%Y-%m-%dT%H:%M:%SZ}")])
    if start is not None and end is not None and end <= start:
        raise Invalid([("to", "must be after 'from'")])
