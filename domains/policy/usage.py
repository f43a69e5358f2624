"""What a tenant holds and has consumed: the input admission checks limits against.

`TenantUsage` is maintained by the admission handler from job events (GPUs
held per (pool, gpu_model) go up on placement and down on release; GPU-hours
accumulate from usage records). It is an immutable value; the helpers return
new values.

Budget periods are calendar periods in UTC, named by `period_key`:
monthly `2026-11`, weekly (ISO week) `2026-W45`, daily `2026-11-05`.
GPU-hours recorded for an earlier period do not count against the current
one, so a budget renews at the period boundary even before the handler has
reset its counters.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from decimal import Decimal
from types import MappingProxyType

from schemas.policy import BudgetPeriod

PoolModel = tuple[str, str]  # (pool, gpu_model) as placed: never a wildcard


def period_key(now: datetime, period: BudgetPeriod) -> str:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    utc = now.astimezone(timezone.utc)
    if period == "monthly":
        return f"{utc.year:04d}-{utc.month:02d}"
    if period == "weekly":
        year, week, _ = utc.isocalendar()
        return f"{year:04d}-W{week:02d}"
    return utc.date().isoformat()


@dataclass(frozen=True)
class TenantUsage:
    allocated: Mapping[PoolModel, int] = field(default_factory=lambda: MappingProxyType({}))
    gpu_hours: Decimal = Decimal(0)
    period: str | None = None  # the period `gpu_hours` belongs to

    def __post_init__(self) -> None:
        object.__setattr__(self, "allocated", MappingProxyType(dict(self.allocated)))

    def gpu_hours_in(self, period: str) -> Decimal:
        return self.gpu_hours if self.period == period else Decimal(0)

    def with_allocated(self, pool: str, gpu_model: str, delta: int) -> TenantUsage:
        held = dict(self.allocated)
        count = held.get((pool, gpu_model), 0) + delta
        if count < 0:
            raise ValueError(f"({pool}, {gpu_model}): cannot release {-delta} GPUs, {count - delta} held")
        if count:
            held[(pool, gpu_model)] = count
        else:
            held.pop((pool, gpu_model), None)
        return replace(self, allocated=held)

    def with_consumed(self, period: str, gpu_hours: Decimal) -> TenantUsage:
        return replace(self, period=period, gpu_hours=self.gpu_hours_in(period) + gpu_hours)
