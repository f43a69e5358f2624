"""The jobs read model: every job's status, tenant, pool, labels, placements and wait reason.

`evolve(view, envelope, seq)` is the pure converter (job view + event -> job
view); `JobsModel` keeps the views indexed by tenant, status, pool, label and
workflow for `list(...)`. Status follows the scheduling lifecycle
(schemas/jobs.py); `reason` is the machine-readable wait/refusal reason while
one applies (`insufficient_gpus{model=H100, want=8, max_free=4}`), the failure
or cancel reason on those terminal states, and None otherwise. A terminal job
keeps its last placements (where it ran); its GPUs are released in the nodes
model. `pool` is the pool the spec asked for (None: any pool).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from projections.registry.base import ReadModel, label_values, updated
from projections.registry.store import IndexedStore, Page
from schemas import Envelope
from schemas import jobs as j


@dataclass(frozen=True, slots=True)
class Slot:
    cluster: str
    node: str
    gpu_indices: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class JobView:
    id: str
    tenant: str
    name: str
    kind: str
    status: str
    pool: str | None
    gpu_model: str | None
    gpus: int  # per gang member
    gang: int
    priority: int
    labels: dict[str, str]
    workflow_id: str | None
    task: str | None
    submitted_at: datetime
    updated_at: datetime
    created_seq: int
    updated_seq: int
    placements: tuple[Slot, ...] = ()
    reason: str | None = None
    reason_code: str | None = None
    attempt: int = 0
    exit_code: int | None = None


def slots(placements: list[j.Placement]) -> tuple[Slot, ...]:
    return tuple(Slot(p.cluster, p.node, tuple(p.gpu_indices)) for p in placements)


def submitted(env: Envelope, seq: int) -> JobView:
    e: j.JobSubmitted = env.data  # type: ignore[assignment]
    s = e.spec
    return JobView(
        id=e.job_id, tenant=env.tenant, name=s.name, kind=s.kind, status="submitted", pool=s.pool,
        gpu_model=s.gpu_model, gpus=s.gpus, gang=s.gang, priority=s.priority, labels=dict(s.labels),
        workflow_id=e.workflow_id, task=e.task, submitted_at=env.time, updated_at=env.time,
        created_seq=seq, updated_seq=seq,
    )


STATUS: dict[type, str] = {
    j.JobAdmitted: "admitted", j.JobRejected: "rejected", j.JobQueued: "queued", j.JobUnschedulable: "queued",
    j.JobPlaced: "placed", j.JobStarting: "starting", j.JobRunning: "running", j.JobRequeued: "queued",
    j.JobSucceeded: "succeeded", j.JobFailed: "failed", j.JobCancelled: "cancelled", j.JobPreempted: "preempted",
}


_HAS_REASON = {cls: "reason" in cls.model_fields for cls in STATUS}  # getattr misses are slow on pydantic


def evolve(view: JobView | None, env: Envelope, seq: int) -> JobView | None:
    """The job view after `env`; None for an event about a job this model never saw submitted."""
    e = env.data
    if isinstance(e, j.JobSubmitted):
        return submitted(env, seq)
    if view is None or type(e) not in STATUS:
        return view
    changes: dict = {"status": STATUS[type(e)], "updated_at": env.time, "updated_seq": seq}
    reason = e.reason if _HAS_REASON[type(e)] else None  # type: ignore[attr-defined]
    if isinstance(reason, j.WaitReason):
        changes.update(reason=str(reason), reason_code=reason.code)
    elif isinstance(e, (j.JobFailed, j.JobCancelled)):
        changes.update(reason=e.reason or None, reason_code=None)
    elif not isinstance(e, j.JobSucceeded):
        changes.update(reason=None, reason_code=None)
    if isinstance(e, j.JobPlaced):
        changes.update(placements=slots(e.placements), gpu_model=e.gpu_model or view.gpu_model)
    elif isinstance(e, j.JobRequeued):
        changes.update(placements=(), attempt=e.attempt)
    elif isinstance(e, j.JobFailed):
        changes.update(exit_code=e.exit_code)
    return updated(view, **changes)


class JobsModel(ReadModel):
    name = "registry.jobs"

    def __init__(self) -> None:
        super().__init__(IndexedStore(
            key=lambda v: v.id,
            indexes={
                "tenant": lambda v: (v.tenant,), "status": lambda v: (v.status,), "pool": lambda v: (v.pool,),
                "label": lambda v: label_values(v.labels), "workflow": lambda v: (v.workflow_id,),
            },
            sorts={
                "created": lambda v: (v.created_seq,), "priority": lambda v: (-v.priority, v.created_seq),
                "name": lambda v: (v.name,),
            },
            eager=("created",),
        ))

    def _job(self, env: Envelope, seq: int) -> None:
        id = env.data.job_id  # type: ignore[attr-defined]
        view = evolve(self.store.get(id), env, seq)
        if view is not None:
            self.store.put(view)

    handlers = dict.fromkeys((j.JobSubmitted, *STATUS), _job)

    def get(self, id: str, tenant: str | None = None) -> JobView | None:
        """The job, or None if missing or (with `tenant`) another tenant's: both answer alike."""
        view = self.store.get(id)
        return None if view is None or (tenant is not None and view.tenant != tenant) else view

    def list(self, *, tenant: str | None = None, status: str | None = None, pool: str | None = None,
             label: str | None = None, workflow: str | None = None, sort: str = "-created", page_size: int = 100,
             cursor: str | None = None) -> Page[JobView]:
        filters = {"tenant": tenant, "status": status, "pool": pool, "label": label, "workflow": workflow}
        return self._list(filters, sort, page_size, cursor)
