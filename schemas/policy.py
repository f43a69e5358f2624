"""Policy: per-tenant quotas and size limits (policy domain).

Aggregate `quota` (id = tenant) under that tenant. `SetQuota` replaces the
tenant's whole limit set; a tenant without a `QuotaSet` is unlimited, and so
is every limit left unset (None / no entry).

Concurrent-GPU limits are keyed by (pool, gpu_model), either of which may be
`*`. Each entry caps the tenant's GPUs held across every (pool, model) it
matches, and every matching entry must hold: `{pool: "*", gpu_model: "H100",
max_gpus: 16}` caps all H100s together, `{pool: "*", gpu_model: "*"}` caps the
tenant's GPUs in total. Size limits apply to a job's total: per-member value
times `gang`. GPU-hour budgets are exact decimals (JSON strings).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator

from schemas.base import Command, Event
from schemas.metering import DecimalString
from schemas.values import NonNegative, Token, Value

Wildcard = Literal["*"]
BudgetPeriod = Literal["monthly", "weekly", "daily"]  # calendar periods in UTC


class GpuLimit(Value):
    pool: Token | Wildcard = "*"
    gpu_model: Token | Wildcard = "*"
    max_gpus: NonNegative


class GpuHourBudget(Value):
    gpu_hours: DecimalString
    period: BudgetPeriod = "monthly"


class QuotaLimits(Value):
    concurrent_gpus: list[GpuLimit] = Field(default_factory=list)
    budget: GpuHourBudget | None = None
    max_gpus_per_job: NonNegative | None = None  # gpus x gang
    max_gang_size: Annotated[int, Field(ge=1)] | None = None
    max_cpu_per_job: Annotated[float, Field(gt=0)] | None = None  # cpu x gang
    max_memory_gb_per_job: Annotated[float, Field(gt=0)] | None = None  # memory_gb x gang

    @field_validator("concurrent_gpus")
    @classmethod
    def _one_entry_per_key(cls, limits: list[GpuLimit]) -> list[GpuLimit]:
        seen: dict[tuple[str, str], int] = {}
        problems = []
        for i, limit in enumerate(limits):
            key = (limit.pool, limit.gpu_model)
            if key in seen:
                problems.append(
                    f"concurrent_gpus[{i}]: duplicate limit for pool={key[0]} "
                    f"gpu_model={key[1]} (first at concurrent_gpus[{seen[key]}])"
                )
            seen.setdefault(key, i)
        if problems:
            raise ValueError("; ".join(problems))
        return limits


class SetQuota(Command):
    TYPE = "tessera.policy.set_quota.v1"
    tenant: Token
    limits: QuotaLimits


class QuotaSet(Event):
    TYPE = "tessera.policy.quota_set.v1"
    tenant: Token
    limits: QuotaLimits
