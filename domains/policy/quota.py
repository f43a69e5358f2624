"""Concurrent-GPU quotas: which limits apply to a request and whether it fits under them.

Rules (see schemas/policy.py): a limit keyed (pool, gpu_model), either part
possibly `*`, caps the tenant's GPUs held across every (pool, model) it
matches; every matching limit must hold.

At admission the pool or model may still be open (the spec leaves it to the
allocator). An open part is matched only by `*`: a limit on a specific pool
cannot be checked before the job has one, so the allocator re-checks each
candidate with concrete values (`quota_block(..., pool=p, gpu_model=m)`).

A request larger than a limit even with nothing held can never fit; it is
`job_exceeds_quota` (admission rejects it: waiting would be forever), while
one that fits once the tenant's other jobs release GPUs is `quota_exceeded`
(the job waits).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from domains.policy.usage import PoolModel
from schemas.policy import GpuLimit
from schemas.values import WaitReason


def _matches(pattern: str, value: str | None) -> bool:
    return pattern == "*" or pattern == value


def applicable(limits: Iterable[GpuLimit], pool: str | None, gpu_model: str | None) -> list[GpuLimit]:
    return [lim for lim in limits if _matches(lim.pool, pool) and _matches(lim.gpu_model, gpu_model)]


def in_use(limit: GpuLimit, allocated: Mapping[PoolModel, int]) -> int:
    return sum(n for (pool, model), n in allocated.items()
               if _matches(limit.pool, pool) and _matches(limit.gpu_model, model))


def _details(limit: GpuLimit, **more: int) -> dict[str, str | int]:
    return {"pool": limit.pool, "model": limit.gpu_model, "limit": limit.max_gpus, **more}


def never_fits(limits: Iterable[GpuLimit], *, pool: str | None, gpu_model: str | None,
               gpus: int) -> WaitReason | None:
    for limit in applicable(limits, pool, gpu_model):
        if gpus > limit.max_gpus:
            return WaitReason(code="job_exceeds_quota", details=_details(limit, want=gpus))
    return None


def quota_block(limits: Iterable[GpuLimit], allocated: Mapping[PoolModel, int], *,
                pool: str | None, gpu_model: str | None, gpus: int) -> WaitReason | None:
    """The first limit `gpus` more GPUs of (pool, gpu_model) would break, as a wait reason."""
    if gpus <= 0:
        return None
    for limit in applicable(limits, pool, gpu_model):
        used = in_use(limit, allocated)
        if used + gpus > limit.max_gpus:
            return WaitReason(code="quota_exceeded", details=_details(limit, in_use=used, want=gpus))
    return None
