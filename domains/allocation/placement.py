"""One placement pass: `place(fleet, queue, *, policy, now) -> list[Decision]`.

Pure: the pass runs on a clone, so the fleet passed in is unchanged and the
same fleet and queue always give the same decisions. Jobs are taken in
dominant-resource-fairness order (fairshare.py); each gets exactly one
decision: `Placed` with exact GPU indices (the lowest free ones of the chosen
node), `Preempt` when evicting lower-priority preemptible work would make room
(its GPUs are freed by the resulting events, so the job is placed on a later
pass), or `Unschedulable` with a machine-readable reason. A job the caller
`held` (e.g. `quota_exceeded` from policy) keeps that reason.

Cost: a plain job is O(K log n) through the bucket index; a constrained job is
O(eligible nodes). Failures are cached per job shape and "epoch" (the number of
placements so far in the pass): capacity only shrinks within a pass, so a shape
that failed at this epoch fails again, and a queue longer than the fleet costs
O(1) per extra job. `now` is part of the kernel's contract (ageing, deadlines)
but no current rule reads it, so decisions never depend on the clock.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from domains.allocation.decisions import (
    Assignment,
    Decision,
    Placed,
    Preempt,
    Unschedulable,
)
from domains.allocation.errors import AllocationError, UnknownPolicy
from domains.allocation.fairshare import FairQueue
from domains.allocation.fit import Eligible, plan
from domains.allocation.fleet import Fleet
from domains.allocation.model import QueuedJob
from domains.allocation.preemption import choose_victims
from domains.allocation.why import why_not
from schemas.values import WaitReason

POLICIES = ("binpack", "spread")


def _checked(fleet: Fleet, queue: Iterable[QueuedJob]) -> list[QueuedJob]:
    jobs = list(queue)
    ids = {job.job_id for job in jobs}
    if len(ids) == len(jobs) and ids.isdisjoint(fleet.running):
        return jobs
    seen: set[str] = set()
    for i, job in enumerate(jobs):
        if job.job_id in seen:
            raise AllocationError(f"job {job.job_id} is queued twice", field=f"queue[{i}].job_id", code="duplicate_job")
        if job.job_id in fleet.running:
            raise AllocationError(f"job {job.job_id} is already placed", field=f"queue[{i}].job_id", code="already_placed")
        seen.add(job.job_id)
    return jobs


def place(fleet: Fleet, queue: Iterable[QueuedJob], *, policy: str = "binpack", now: datetime) -> list[Decision]:
    if policy not in POLICIES:
        raise UnknownPolicy(f"unknown policy {policy!r}: expected one of {', '.join(POLICIES)}", field="policy")
    jobs = _checked(fleet, queue)
    work = fleet.clone()
    spread = policy == "spread"
    eligible = Eligible(work)
    failed: dict[tuple, tuple[int, WaitReason]] = {}
    no_victims: dict[tuple, tuple[int, int]] = {}
    reserved: set[str] = set()
    epoch = 0
    order = FairQueue(jobs, work.usage, work.capacity)
    decisions: list[Decision] = []
    for job in order:
        if job.held is not None:
            decisions.append(Unschedulable(job.job_id, job.held))
            continue
        shape = job.shape
        cached = failed.get(shape)
        if cached is None or cached[0] != epoch:
            nodes = plan(work, shape, eligible, spread)
            if nodes is not None:
                placements = tuple(Assignment(n.cluster, n.name, work.take(n, job.job_id, shape.gpus))
                                   for n in nodes)
                spec = job.spec
                order.charge(job.tenant, shape.gpus * shape.gang, spec.cpu * shape.gang, spec.memory_gb * shape.gang)
                decisions.append(Placed(job.job_id, placements, nodes[0].model if shape.gpus else None))
                epoch += 1
                continue
            cached = failed[shape] = (epoch, why_not(work, shape, eligible))
        reason = cached[1]
        key = (shape, job.spec.priority)
        if no_victims.get(key) != (epoch, len(reserved)):
            victims = choose_victims(work, shape, job.spec.priority, eligible(shape), reserved)
            if victims:
                reserved.update(victims)
                decisions.append(Preempt(job.job_id, tuple(victims), reason))
                continue
            no_victims[key] = (epoch, len(reserved))
        decisions.append(Unschedulable(job.job_id, reason))
    return decisions
