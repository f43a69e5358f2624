"""Admission: `admit(quota, usage, spec, *, now) -> Admit | Wait | Reject`.

Outcomes and the events the handler turns them into:
- `Admit()`        -> JobAdmitted; the job queues and the allocator may place it.
- `Wait(reason)`   -> JobAdmitted, and the queued job is JobUnschedulable with
  `reason` (`quota_exceeded{pool, model, limit, in_use, want}`): the tenant's
  other jobs hold the GPUs its concurrent quota allows; it runs when they
  release them. The allocator re-checks with `quota_block` when placing.
- `Reject(reason)` -> JobRejected; the job can never run as submitted or the
  tenant may not start GPU work now.

Checks, in this order (the first failing one is the reason):
0. a hard spend budget (billing) at 100% in the current period, GPU jobs only:
   `budget_exhausted{budget=spend, period, limit, used, currency}` (spend.py);
1. size limits, on the job's total (per member x gang):
   `job_too_large{field=gpus|gang|cpu|memory_gb, max, want}`;
2. GPU-hour budget, for GPU jobs only: consumed >= budget in the current
   period -> `budget_exhausted{period=2026-11, limit, used}` (exact decimal
   strings). Reaching the budget exactly exhausts it;
3. a request above a concurrent limit even with nothing held:
   `job_exceeds_quota{pool, model, limit, want}` (reject: it would wait forever);
4. concurrent GPUs: `quota_exceeded` -> Wait.
No quota set means no limits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from domains.policy.quota import never_fits, quota_block
from domains.policy.spend import SpendBudget, spend_block
from domains.policy.state import QuotaState
from domains.policy.usage import TenantUsage, period_key
from schemas.jobs import JobSpec
from schemas.policy import QuotaLimits
from schemas.values import WaitReason


@dataclass(frozen=True)
class Admit:
    pass


@dataclass(frozen=True)
class Wait:
    reason: WaitReason


@dataclass(frozen=True)
class Reject:
    reason: WaitReason


Verdict = Admit | Wait | Reject


def admit(quota: QuotaState, usage: TenantUsage, spec: JobSpec, *, now: datetime,
          spend: SpendBudget | None = None) -> Verdict:
    blocked = spend_block(spend, spec.gpus * spec.gang, now)  # 0. a hard spend budget at 100% (spend.py)
    if blocked is not None:
        return Reject(blocked)
    limits = quota.limits
    if limits is None:
        return Admit()
    gpus = spec.gpus * spec.gang
    reason = _too_large(limits, spec) or _budget_exhausted(limits, usage, gpus, now)
    reason = reason or never_fits(limits.concurrent_gpus, pool=spec.pool, gpu_model=spec.gpu_model, gpus=gpus)
    if reason is not None:
        return Reject(reason)
    waiting = quota_block(limits.concurrent_gpus, usage.allocated, pool=spec.pool,
                          gpu_model=spec.gpu_model, gpus=gpus)
    return Wait(waiting) if waiting is not None else Admit()


def _too_large(limits: QuotaLimits, spec: JobSpec) -> WaitReason | None:
    checks = (
        ("gpus", limits.max_gpus_per_job, spec.gpus * spec.gang),
        ("gang", limits.max_gang_size, spec.gang),
        ("cpu", limits.max_cpu_per_job, spec.cpu * spec.gang),
        ("memory_gb", limits.max_memory_gb_per_job, spec.memory_gb * spec.gang),
    )
    for field, most, want in checks:
        if most is not None and want > most:
            return WaitReason(code="job_too_large", details={"field": field, "max": most, "want": want})
    return None


def _budget_exhausted(limits: QuotaLimits, usage: TenantUsage, gpus: int, now: datetime) -> WaitReason | None:
    if limits.budget is None or gpus == 0:
        return None
    period = period_key(now, limits.budget.period)
    used = usage.gpu_hours_in(period)
    if used < limits.budget.gpu_hours:
        return None
    details = {"period": period, "limit": str(limits.budget.gpu_hours), "used": str(used)}
    return WaitReason(code="budget_exhausted", details=details)
