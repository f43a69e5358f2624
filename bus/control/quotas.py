"""Concurrent-GPU quotas as the placer enforces them, on its fleet (provisional placements included).

Admission lets a job that is over its tenant's concurrent quota in (`Wait`);
the placer holds it. Two checks, both with `domains.policy.quota_block`:
- before a pass, with the job's pool/model as its spec states them (open parts
  are matched by `*` limits only): a job blocked already is `held` with the
  `quota_exceeded` reason and the pass leaves it waiting;
- after the pass, each `Placed` decision with its concrete pool and GPU model,
  counting the placements made earlier in the same pass: a placement that would
  break a limit is turned into a wait with that reason (its GPUs stay free).

Usage is counted from `fleet.running`, i.e. from the log plus this placer's
own placements still in flight, so two passes never overrun a quota between them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

from domains.allocation import Fleet, Placed, QueuedJob
from domains.policy import quota_block
from schemas.fleet import node_id
from schemas.policy import QuotaLimits
from schemas.values import WaitReason


class QuotaCheck:
    def __init__(self, fleet: Fleet, limits: dict[str, QuotaLimits]) -> None:
        self.fleet = fleet
        self.limits = {t: lim for t, lim in limits.items() if lim.concurrent_gpus}
        self.allocated: dict[str, Counter] = {t: Counter() for t in self.limits}
        for job in fleet.running.values():
            if job.tenant in self.allocated:
                for key, indices in job.placements:
                    self.allocated[job.tenant][self._pool_model(key, job.gpu_model)] += len(indices)

    def _pool_model(self, key: str, model: str | None) -> tuple[str, str]:
        node = self.fleet.nodes.get(key)
        pool = node.spec.pool if node is not None else "default"
        return pool, model or (node.spec.gpu_model if node is not None and node.spec.gpu_model else "")

    def hold(self, job: QueuedJob) -> QueuedJob:
        limits = self.limits.get(job.tenant)
        if limits is None or job.held is not None:
            return job
        reason = quota_block(limits.concurrent_gpus, self.allocated[job.tenant], pool=job.spec.pool,
                             gpu_model=job.spec.gpu_model, gpus=job.spec.gpus * job.spec.gang)
        return job if reason is None else replace(job, held=reason)

    def admit(self, tenant: str, decision: Placed) -> WaitReason | None:
        """None and the placement is counted, or the limit it would break."""
        limits = self.limits.get(tenant)
        if limits is None:
            return None
        wanted: Counter = Counter()
        for a in decision.placements:
            wanted[self._pool_model(node_id(a.cluster, a.node), decision.gpu_model)] += len(a.gpu_indices)
        so_far = Counter(self.allocated[tenant])
        for (pool, model), gpus in wanted.items():
            reason = quota_block(limits.concurrent_gpus, so_far, pool=pool, gpu_model=model, gpus=gpus)
            if reason is not None:
                return reason
            so_far[(pool, model)] += gpus
        self.allocated[tenant] = so_far
        return None
