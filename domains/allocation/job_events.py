"""How job lifecycle events change the fleet: queued jobs wait, placed jobs hold GPUs, ended jobs give them back.

`JobPlaced` is validated whole before anything changes: every node must be
known and every GPU index free, below the node's GPU count and named once, else
`UnknownNode` / `GpuConflict` (with the `placements[i]` path) and the fleet is
untouched. A redelivered `JobPlaced` with the same placements is a no-op, and
so is any `JobPlaced`/`JobQueued` of a job that already ended (a late, out-of-
order redelivery must not take GPUs back).
`JobRequeued` (or a new `JobQueued`) releases the GPUs and queues the job again
at its original position; succeeded/failed/cancelled/preempted/rejected jobs
release their GPUs and leave the queue.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from domains.allocation.errors import GpuConflict, UnknownNode
from domains.allocation.fleet_events import apply_event
from domains.allocation.model import QueuedJob, Running
from schemas.fleet import node_id
from schemas.jobs import (
    JobCancelled,
    JobFailed,
    JobPlaced,
    JobPreempted,
    JobQueued,
    JobRejected,
    JobRequeued,
    JobSucceeded,
)

NEVER_PREEMPTED = 1001  # above any JobSpec priority

if TYPE_CHECKING:
    from domains.allocation.fleet import Fleet


def release(fleet: Fleet, job_id: str) -> Running | None:
    job = fleet.running.pop(job_id, None)
    if job is None:
        return None
    for key, _ in job.placements:
        node = fleet.nodes.get(key)
        if node is not None:
            fleet.give_back(node, job_id)
    fleet.charge(job.tenant, job.gpus, job.cpu, job.memory_gb, -1)
    if job.preemptible:
        fleet.preemptible[job.priority] -= 1
    return job


@apply_event.register(JobQueued)
def _queued(event: JobQueued, fleet: Fleet, tenant: str) -> None:
    if event.job_id in fleet.ended:
        return  # redelivered after the job ended
    earlier = release(fleet, event.job_id)
    waiting = fleet.queued.get(event.job_id)
    seq = waiting.seq if waiting else earlier.submitted if earlier else fleet.seq
    fleet.seq += 1
    fleet.queued[event.job_id] = QueuedJob(event.job_id, event.spec, tenant, seq)


@apply_event.register(JobRequeued)
def _requeued(event: JobRequeued, fleet: Fleet, tenant: str) -> None:
    job = release(fleet, event.job_id)
    if job is not None and job.spec is not None:
        fleet.queued[job.job_id] = QueuedJob(job.job_id, job.spec, job.tenant, job.submitted)


def _validated(fleet: Fleet, event: JobPlaced) -> tuple[tuple[str, tuple[int, ...]], ...]:
    seen: dict[str, set[int]] = {}
    out = []
    for i, p in enumerate(event.placements):
        key = node_id(p.cluster, p.node)
        node = fleet.nodes.get(key)
        if node is None:
            raise UnknownNode(f"job {event.job_id}: unknown node {key}", field=f"placements[{i}].node")
        free = set(node.free)
        used = seen.setdefault(key, set())
        for gpu in p.gpu_indices:
            if gpu not in free or gpu in used:
                why = "is not on the node" if gpu >= node.spec.gpu_count else "is already allocated"
                raise GpuConflict(f"job {event.job_id}: GPU {gpu} of node {key} {why}",
                                  field=f"placements[{i}].gpu_indices")
            used.add(gpu)
        out.append((key, tuple(p.gpu_indices)))
    return tuple(out)


@apply_event.register(JobPlaced)
def _placed(event: JobPlaced, fleet: Fleet, tenant: str) -> None:
    if event.job_id in fleet.ended:
        return  # redelivered after the job ended: its GPUs were given back for good
    wanted = tuple((node_id(p.cluster, p.node), tuple(p.gpu_indices)) for p in event.placements)
    current = fleet.running.get(event.job_id)
    if current is not None:
        if current.placements == wanted:
            return  # redelivery
        raise GpuConflict(f"job {event.job_id} is already placed elsewhere", field="placements")
    placements = _validated(fleet, event)
    q = fleet.queued.pop(event.job_id, None)
    spec = q.spec if q else None
    for key, indices in placements:
        node = fleet.nodes[key]
        taken = set(indices)
        node.free = [g for g in node.free if g not in taken]
        node.allocs[event.job_id] = node.allocs.get(event.job_id, ()) + indices
        fleet.index.touch(node)
    gpus = sum(len(ix) for _, ix in placements)
    members = spec.gang if spec else 1
    job = Running(
        event.job_id, q.tenant if q else tenant, spec, q.seq if q else fleet.seq, placements,
        event.gpu_model, gpus, spec.cpu * members if spec else 0.0, spec.memory_gb * members if spec else 0.0,
        spec.priority if spec else NEVER_PREEMPTED, bool(spec and spec.preemptible), fleet.seq,
    )
    fleet.seq += 1
    fleet.running[event.job_id] = job
    fleet.charge(job.tenant, job.gpus, job.cpu, job.memory_gb)
    if job.preemptible:
        fleet.preemptible[job.priority] = fleet.preemptible.get(job.priority, 0) + 1


def _ended(event: JobSucceeded | JobFailed | JobCancelled | JobPreempted | JobRejected,
           fleet: Fleet, tenant: str) -> None:
    release(fleet, event.job_id)
    fleet.queued.pop(event.job_id, None)
    fleet.ended.add(event.job_id)


for _type in (JobSucceeded, JobFailed, JobCancelled, JobPreempted, JobRejected):
    apply_event.register(_type, _ended)
