"""Reports from a task's job (started, exited) and the outcome they decide.

Guarantees:
- A report for a task never made ready (pending, blocked, or cancelled before
  its first run), or for an attempt never announced, is a
  `WorkflowIllegalTransition`; a report for a task the workflow lacks is `UnknownTask`.
- Reports that are late or repeated are no-ops: an older attempt, a
  second start, an exit of a task that already ended, anything after the
  workflow ended (its jobs were told to stop).
- An exit of a ready or running task decides its outcome in one batch,
  with everything that follows from it (see `decide`).
"""

from __future__ import annotations

from domains.scheduling.workflow import errors, exit_codes, progress
from domains.scheduling.workflow.state import TASK_ACTIVE, TaskState, WorkflowState
from schemas import workflows as w


def task_started(state: WorkflowState, cmd: w.RecordTaskStarted) -> list[w.Event]:
    task = _current(state, cmd, cmd.attempt)
    if task is None or task.status != "ready":
        return []
    return [w.TaskStarted(workflow_id=cmd.workflow_id, task=cmd.task, attempt=task.attempt)]


def task_exited(state: WorkflowState, cmd: w.RecordTaskExited) -> list[w.Event]:
    task = _current(state, cmd, cmd.attempt)
    if task is None or task.status not in TASK_ACTIVE:
        return []
    spec = state.task_spec(cmd.task)
    action = exit_codes.action_for(spec.exit_actions, cmd.exit_code)
    ids = {"workflow_id": cmd.workflow_id, "task": cmd.task}
    batch = progress.Batch(state)
    if action == "complete":
        batch.add([w.TaskSucceeded(**ids, attempt=task.attempt, exit_code=cmd.exit_code)])
        batch.add(progress.ready_events(batch.state))
    elif action == "reschedule" and task.attempt <= spec.retries:
        nxt = task.attempt + 1
        batch.add([w.TaskRetried(**ids, attempt=nxt, exit_code=cmd.exit_code),
                   progress.task_ready(state, cmd.task, nxt)])
    else:
        batch.add([w.TaskFailed(**ids, attempt=task.attempt, exit_code=cmd.exit_code,
                                retryable=action == "reschedule")])
        batch.add(progress.blocked_events(batch.state, cmd.task))
    return batch.add(progress.end_events(batch.state)).events


def _current(state: WorkflowState, cmd: w.RecordTaskStarted | w.RecordTaskExited,
             attempt: int | None) -> TaskState | None:
    """The task if the report is for its current run; None if the report is stale or late."""
    if cmd.task not in state.tasks:
        raise errors.UnknownTask(cmd.workflow_id, cmd.task)
    task = state.tasks[cmd.task]
    name = type(cmd).__name__
    if task.attempt == 0:
        raise errors.WorkflowIllegalTransition(
            f"{name}: task {cmd.task!r} is {task.status} and was never made ready", field="task")
    if attempt is not None and attempt > task.attempt:
        raise errors.WorkflowIllegalTransition(
            f"{name}: task {cmd.task!r} is at attempt {task.attempt}, not {attempt}", field="attempt")
    if state.is_terminal or (attempt is not None and attempt < task.attempt):
        return None
    return task
