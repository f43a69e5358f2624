"""Event, command and input factories for the policy domain tests."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

from domains.policy import QuotaState, TenantUsage
from schemas.jobs import JobSpec, Placement
from schemas.policy import GpuLimit, QuotaLimits, QuotaSet, SetQuota

T0 = datetime(2026, 11, 15, 12, 0, tzinfo=timezone.utc)
TENANT = "acme"


def limits(*gpu_limits: tuple[str, str, int], **fields) -> QuotaLimits:
    concurrent = [GpuLimit(pool=p, gpu_model=m, max_gpus=n) for p, m, n in gpu_limits]
    return QuotaLimits(concurrent_gpus=concurrent, **fields)


def quota_set(*gpu_limits: tuple[str, str, int], tenant: str = TENANT, **fields) -> QuotaSet:
    return QuotaSet(tenant=tenant, limits=limits(*gpu_limits, **fields))


def set_quota(*gpu_limits: tuple[str, str, int], tenant: str = TENANT, **fields) -> SetQuota:
    return SetQuota(tenant=tenant, limits=limits(*gpu_limits, **fields))


def quota(*gpu_limits: tuple[str, str, int], **fields) -> QuotaState:
    return QuotaState(tenant=TENANT, limits=limits(*gpu_limits, **fields))


def spec(gpus: int = 1, gpu_model: str | None = "H100", pool: str | None = "train", **fields) -> JobSpec:
    return JobSpec(name="job", image="img:1", gpus=gpus, gpu_model=gpu_model if gpus else None,
                   pool=pool, **fields)


def usage(allocated: dict[tuple[str, str], int] | None = None, gpu_hours: str = "0",
          period: str | None = "2026-11") -> TenantUsage:
    return TenantUsage(allocated=allocated or {}, gpu_hours=Decimal(gpu_hours), period=period)


class Job:
    """A stand-in for the scheduling state of a job: what the failure policy reads."""

    def __init__(self, spec: JobSpec, placements: list[Placement] | None = None) -> None:
        self.spec = spec
        self.placements = placements
