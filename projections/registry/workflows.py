"""The workflows read model: every workflow's DAG, per-task state and counts, for list and get.

`evolve(view, envelope, seq)` is the pure converter (workflow view + event ->
workflow view); `WorkflowsModel` keeps the views indexed by tenant, status and
name. It follows the `workflow` aggregate's rules
(domains/scheduling/workflow/state.py) so the view never disagrees with it:

- WorkflowSubmitted: status `running`, every task `pending` with its
  `depends_on` = the explicit dependencies plus the tasks whose outputs it
  consumes (`inputs`), in that order, without repeats; `group` and whether it
  leads the group.
- TaskReady -> `ready` (attempt, current job id; `jobs` lists every attempt's
  job), TaskStarted -> `running`, TaskSucceeded / TaskFailed -> `succeeded` /
  `failed` with the exit code, TaskRetried -> `retrying` (the TaskReady of the
  next attempt follows in the same decision), TaskBlocked -> `blocked`
  (skipped: never runs) with the task it is blocked by.
- The workflow's end (succeeded, failed, cancelled, timed_out) ends every
  unfinished task as `cancelled`; a terminal workflow is never changed again.
- `counts` is the number of tasks per state (states with no task are absent).
Events about a workflow the model never saw submitted, or under another
tenant than the one that submitted it, are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from projections.registry.base import ReadModel, updated
from projections.registry.store import IndexedStore, Page
from schemas import Envelope
from schemas import workflows as w

TASK_TERMINAL = frozenset({"succeeded", "failed", "blocked", "cancelled"})
ENDS: dict[type, str] = {w.WorkflowSucceeded: "succeeded", w.WorkflowFailed: "failed",
                         w.WorkflowCancelled: "cancelled", w.WorkflowTimedOut: "timed_out"}
TASK_EVENTS = (w.TaskReady, w.TaskStarted, w.TaskSucceeded, w.TaskFailed, w.TaskRetried, w.TaskBlocked)


@dataclass(frozen=True, slots=True)
class TaskView:
    name: str
    depends_on: tuple[str, ...]
    group: str | None
    lead: bool  # leads its group
    retries: int  # reschedules allowed
    status: str = "pending"  # pending|ready|running|retrying|succeeded|failed|blocked|cancelled
    attempt: int = 0  # 0 until first ready
    job_id: str | None = None  # the current attempt's job
    jobs: tuple[str, ...] = ()  # every attempt's job, in order
    exit_code: int | None = None
    blocked_by: str | None = None


@dataclass(frozen=True, slots=True)
class WorkflowView:
    id: str
    tenant: str
    name: str
    status: str  # running|succeeded|failed|cancelled|timed_out
    timeout_s: int | None
    submitted_at: datetime
    updated_at: datetime
    created_seq: int
    updated_seq: int
    tasks: tuple[TaskView, ...]  # in declaration order
    counts: dict[str, int]
    reason: str | None = None
    failed_tasks: tuple[str, ...] = ()

    def task(self, name: str) -> TaskView | None:
        return next((t for t in self.tasks if t.name == name), None)

    @property
    def terminal(self) -> bool:
        return self.status != "running"


def depends_on(task: w.TaskSpec) -> tuple[str, ...]:
    return tuple(dict.fromkeys((*task.depends_on, *(ref.task for ref in task.inputs))))


def submitted(env: Envelope, seq: int) -> WorkflowView:
    e: w.WorkflowSubmitted = env.data  # type: ignore[assignment]
    leads = {g.lead for g in e.spec.groups}
    tasks = tuple(TaskView(name=t.name, depends_on=depends_on(t), group=t.group,
                           lead=t.group is not None and t.name in leads, retries=t.retries)
                  for t in e.spec.tasks)
    return WorkflowView(id=e.workflow_id, tenant=env.tenant, name=e.spec.name, status="running",
                        timeout_s=e.spec.timeout_s, submitted_at=e.submitted_at, updated_at=env.time,
                        created_seq=seq, updated_seq=seq, tasks=tasks, counts={"pending": len(tasks)})


def task_changes(task: TaskView, e: w.Event) -> dict:
    if isinstance(e, w.TaskReady):
        return {"status": "ready", "attempt": e.attempt, "job_id": e.job_id,
                "jobs": task.jobs if e.job_id in task.jobs else (*task.jobs, e.job_id)}
    if isinstance(e, w.TaskStarted):
        return {"status": "running"}
    if isinstance(e, w.TaskSucceeded):
        return {"status": "succeeded", "exit_code": e.exit_code}
    if isinstance(e, w.TaskFailed):
        return {"status": "failed", "exit_code": e.exit_code}
    if isinstance(e, w.TaskRetried):
        return {"status": "retrying", "exit_code": e.exit_code}
    if isinstance(e, w.TaskBlocked):
        return {"status": "blocked", "blocked_by": e.blocked_by}
    raise TypeError(f"not a task event: {type(e).__name__}")


def counts(tasks: tuple[TaskView, ...]) -> dict[str, int]:
    out: dict[str, int] = {}
    for t in tasks:
        out[t.status] = out.get(t.status, 0) + 1
    return out


def evolve(view: WorkflowView | None, env: Envelope, seq: int) -> WorkflowView | None:
    """The workflow view after `env`; None for an event about a workflow never seen submitted."""
    e = env.data
    if isinstance(e, w.WorkflowSubmitted):
        return view if view is not None else submitted(env, seq)
    if view is None or view.terminal or view.tenant != env.tenant:  # ids are per tenant: never mix two
        return view
    if isinstance(e, TASK_EVENTS):
        tasks = tuple(updated(t, **task_changes(t, e)) if t.name == e.task and t.status not in TASK_TERMINAL
                      else t for t in view.tasks)
        changes: dict = {}
    elif type(e) in ENDS:
        tasks = tuple(t if t.status in TASK_TERMINAL else updated(t, status="cancelled") for t in view.tasks)
        changes = {"status": ENDS[type(e)], "reason": _reason(e)}
        if isinstance(e, w.WorkflowFailed):
            changes["failed_tasks"] = tuple(e.failed_tasks)
    else:
        return view
    return updated(view, tasks=tasks, counts=counts(tasks), updated_at=env.time, updated_seq=seq, **changes)


def _reason(e: w.Event) -> str | None:
    if isinstance(e, w.WorkflowTimedOut):
        return f"timed out after {e.timeout_s}s"
    return getattr(e, "reason", None) or None


class WorkflowsModel(ReadModel):
    name = "registry.workflows"

    def __init__(self) -> None:
        super().__init__(IndexedStore(
            key=lambda v: v.id,
            indexes={"tenant": lambda v: (v.tenant,), "status": lambda v: (v.status,), "name": lambda v: (v.name,)},
            sorts={"created": lambda v: (v.created_seq,), "updated": lambda v: (v.updated_seq,),
                   "name": lambda v: (v.name,)},
            eager=("created",),
        ))

    def _workflow(self, env: Envelope, seq: int) -> None:
        id = env.data.workflow_id  # type: ignore[attr-defined]
        old = self.store.get(id)
        view = evolve(old, env, seq)
        if view is not None and view is not old:
            self.store.put(view)

    handlers = dict.fromkeys((w.WorkflowSubmitted, *TASK_EVENTS, *ENDS), _workflow)

    def get(self, id: str, tenant: str | None = None) -> WorkflowView | None:
        """The workflow, or None if missing or (with `tenant`) another tenant's: both answer alike."""
        view = self.store.get(id)
        return None if view is None or (tenant is not None and view.tenant != tenant) else view

    def list(self, *, tenant: str | None = None, status: str | None = None, name: str | None = None,
             sort: str = "-created", page_size: int = 100, cursor: str | None = None) -> Page[WorkflowView]:
        filters = {"tenant": tenant, "status": status, "name": name}
        return self._list(filters, sort, page_size, cursor)
