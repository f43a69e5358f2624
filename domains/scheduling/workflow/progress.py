"""What follows from the tasks' statuses: tasks that became ready, tasks blocked, the workflow's end.

Pure functions of a `WorkflowState` (with the decision's earlier events
already folded in by a `Batch`), used by `decide` after every outcome:
- `ready_events`: a pending task is ready once every task it waits for
  succeeded; ready tasks of one moment come in `Dag.ready_order` (groups
  together, lead first), each with the deterministic id of its job.
- `blocked_events`: every pending task downstream of a final failure is
  blocked, so it can never become ready.
- `end_events`: once every task is terminal the workflow succeeds (all
  succeeded) or fails naming the failed tasks; before that, nothing.
"""

from __future__ import annotations

from domains.scheduling.workflow.spec import to_job_spec
from domains.scheduling.workflow.state import TASK_TERMINAL, WorkflowState, evolve
from schemas import derived_id
from schemas import workflows as w


class Batch:
    """A decision's events so far and the state they lead to, so later rules see earlier outcomes."""

    def __init__(self, state: WorkflowState) -> None:
        self.state, self.events = state, []

    def add(self, events: list[w.Event]) -> Batch:
        for event in events:
            self.events.append(event)
            self.state = evolve(self.state, event)
        return self


def task_job_id(workflow_id: str, task: str, attempt: int) -> str:
    return derived_id(workflow_id, task, attempt)


def task_ready(state: WorkflowState, task: str, attempt: int) -> w.TaskReady:
    assert state.workflow_id is not None
    return w.TaskReady(workflow_id=state.workflow_id, task=task, attempt=attempt,
                       job_id=task_job_id(state.workflow_id, task, attempt),
                       job=to_job_spec(state.task_spec(task)))


def ready_events(state: WorkflowState) -> list[w.Event]:
    assert state.dag is not None
    tasks, upstream = state.tasks, state.dag.upstream
    ready = [name for name, t in tasks.items()
             if t.status == "pending" and all(tasks[d].status == "succeeded" for d in upstream[name])]
    return [task_ready(state, name, 1) for name in state.dag.ready_order(ready)]


def blocked_events(state: WorkflowState, failed: str) -> list[w.Event]:
    assert state.dag is not None and state.workflow_id is not None
    return [w.TaskBlocked(workflow_id=state.workflow_id, task=name, blocked_by=failed)
            for name in state.dag.downstream_of(failed) if state.tasks[name].status == "pending"]


def end_events(state: WorkflowState) -> list[w.Event]:
    assert state.workflow_id is not None
    if state.is_terminal or any(t.status not in TASK_TERMINAL for t in state.tasks.values()):
        return []
    failed = [name for name, t in state.tasks.items() if t.status == "failed"]
    if not failed:
        return [w.WorkflowSucceeded(workflow_id=state.workflow_id)]
    blocked = sum(t.status == "blocked" for t in state.tasks.values())
    details = ", ".join(f"{name!r} (exit code {state.tasks[name].exit_code})" for name in failed)
    reason = f"failed: {details}" + (f"; {blocked} blocked downstream" if blocked else "")
    return [w.WorkflowFailed(workflow_id=state.workflow_id, reason=reason, failed_tasks=failed)]
