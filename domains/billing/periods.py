"""Billing periods: calendar periods in UTC, named like the policy domain's budget periods.

`period_of(t, kind)` is the period containing `t` (start inclusive, end
exclusive): monthly `2026-11`, weekly (ISO week, from Monday) `2026-W45`,
daily `2026-11-05`. `following(period)` is the next one; `invoice_id(key)` is
the invoice aggregate's id for a period (`inv-2026-11`). Pure; `t` must be
timezone-aware.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal

from domains.billing.errors import BillingError

PeriodKind = Literal["monthly", "weekly", "daily"]
KINDS: tuple[str, ...] = ("monthly", "weekly", "daily")


@dataclass(frozen=True)
class Period:
    kind: str
    key: str
    start: datetime
    end: datetime  # exclusive

    def contains(self, t: datetime) -> bool:
        return self.start <= t < self.end


def invoice_id(period_key: str) -> str:
    return f"inv-{period_key}"


def period_of(t: datetime, kind: str) -> Period:
    if t.tzinfo is None:
        raise BillingError(f"at: must be timezone-aware, got {t}", field="at")
    utc = t.astimezone(UTC)
    if kind == "monthly":
        start = datetime(utc.year, utc.month, 1, tzinfo=UTC)
        end = datetime(utc.year + utc.month // 12, utc.month % 12 + 1, 1, tzinfo=UTC)
        return Period(kind, f"{utc.year:04d}-{utc.month:02d}", start, end)
    if kind == "weekly":
        day = utc.date() - timedelta(days=utc.weekday())
        year, week, _ = day.isocalendar()
        start = _midnight(day)
        return Period(kind, f"{year:04d}-W{week:02d}", start, start + timedelta(days=7))
    if kind == "daily":
        start = _midnight(utc.date())
        return Period(kind, utc.date().isoformat(), start, start + timedelta(days=1))
    raise BillingError(f"period: must be one of {', '.join(KINDS)}, got {kind!r}", field="period")


def following(period: Period) -> Period:
    return period_of(period.end, period.kind)


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)
