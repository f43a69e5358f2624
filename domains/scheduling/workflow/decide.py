"""Decisions of the `workflow` aggregate: `decide(state, command, *, now) -> list[Event]`.

Rules (an invalid request raises; nothing is half-applied):
- SubmitWorkflow checks the spec (`InvalidWorkflowSpec` lists every problem
  with its path), records `submitted_at=now`, and makes every task that waits
  for nothing ready at once. The identical submission again is a no-op; a
  different spec under the same id is `WorkflowExists`.
- RecordTaskStarted / RecordTaskExited name a task (`UnknownTask` otherwise)
  that was made ready (else `WorkflowIllegalTransition`). Reports for an
  older attempt, repeated reports and reports after the task or the workflow
  ended are no-ops, so redelivered job events are harmless.
- An exit's action (`exit_codes.action_for`): complete -> TaskSucceeded and
  the tasks that became ready; reschedule with retries left -> TaskRetried
  and TaskReady for the next attempt (at most `retries + 1` runs); fail, or
  reschedule without retries left -> TaskFailed and TaskBlocked for every
  pending task downstream. Then, once no task is unfinished, the workflow's end.
- CancelWorkflow ends a running workflow as cancelled, listing the jobs of
  ready and running tasks to stop; cancelling a cancelled workflow is a no-op.
- CheckWorkflowTimeout times a running workflow out once `timeout_s` passed
  since `submitted_at`; otherwise it emits nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import singledispatch

from domains.scheduling.workflow import errors, progress, reports
from domains.scheduling.workflow.spec import validate_workflow_spec
from domains.scheduling.workflow.state import TASK_ACTIVE, WorkflowState
from schemas import workflows as w


def decide(state: WorkflowState, command: w.Command, *, now: datetime) -> list[w.Event]:
    if isinstance(command, w.SubmitWorkflow):
        return _submit(state, command, now)
    name = type(command).__name__
    workflow_id = getattr(command, "workflow_id", None)
    if workflow_id is None:
        raise TypeError(f"not a workflow command: {name}")
    if state.status == "none":
        raise errors.WorkflowNotFound(workflow_id, name)
    if workflow_id != state.workflow_id:
        raise errors.WrongWorkflow(f"{name} for workflow {workflow_id!r} applied to "
                                   f"workflow {state.workflow_id!r}", field="workflow_id")
    return _decide(command, state, now)


def _submit(state: WorkflowState, cmd: w.SubmitWorkflow, now: datetime) -> list[w.Event]:
    if state.status != "none":
        if state.workflow_id == cmd.workflow_id and state.spec == cmd.spec:
            return []
        raise errors.WorkflowExists(f"workflow {cmd.workflow_id!r} exists with another spec",
                                    field="workflow_id")
    problems = validate_workflow_spec(cmd.spec)
    if problems:
        raise errors.InvalidWorkflowSpec([p.model_copy(update={"path": _under_spec(p.path)})
                                          for p in problems])
    batch = progress.Batch(state).add([w.WorkflowSubmitted(workflow_id=cmd.workflow_id, spec=cmd.spec,
                                                   submitted_at=now)])
    return batch.add(progress.ready_events(batch.state)).events


def _under_spec(path: str) -> str:
    return f"spec.{path}" if path else "spec"


@singledispatch
def _decide(command: w.Command, state: WorkflowState, now: datetime) -> list[w.Event]:
    raise TypeError(f"not a workflow command: {type(command).__name__}")


@_decide.register
def _(cmd: w.RecordTaskStarted, state: WorkflowState, now: datetime) -> list[w.Event]:
    return reports.task_started(state, cmd)


@_decide.register
def _(cmd: w.RecordTaskExited, state: WorkflowState, now: datetime) -> list[w.Event]:
    return reports.task_exited(state, cmd)


@_decide.register
def _(cmd: w.CancelWorkflow, state: WorkflowState, now: datetime) -> list[w.Event]:
    if state.status == "cancelled":
        return []
    if state.is_terminal:
        raise errors.WorkflowIllegalTransition(
            f"CancelWorkflow: workflow {state.workflow_id!r} already {state.status}", field="status")
    return [w.WorkflowCancelled(workflow_id=cmd.workflow_id, reason=cmd.reason,
                                stop_jobs=_active_jobs(state))]


@_decide.register
def _(cmd: w.CheckWorkflowTimeout, state: WorkflowState, now: datetime) -> list[w.Event]:
    limit = state.spec.timeout_s if state.spec else None
    if state.is_terminal or limit is None or state.submitted_at is None:
        return []
    if now < state.submitted_at + timedelta(seconds=limit):
        return []
    return [w.WorkflowTimedOut(workflow_id=cmd.workflow_id, timeout_s=limit, timed_out_at=now,
                               stop_jobs=_active_jobs(state))]


def _active_jobs(state: WorkflowState) -> list[str]:
    return [t.job_id for t in state.tasks.values() if t.status in TASK_ACTIVE and t.job_id]
