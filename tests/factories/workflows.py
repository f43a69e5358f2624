"""Factories for workflow tests: specs, commands and the events of a workflow's history.

Defaults: workflow id `WF`, submitted at `T0`, tasks running image `img`.
`task("b", "a")` is task b depending on a; event factories take the spec
where the event carries data derived from it (TaskReady's job).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from domains.scheduling.workflow import (
    WorkflowState,
    decide,
    fold,
    task_job_id,
    to_job_spec,
)
from schemas import workflows as w
from schemas.base import Command, Event

WF = "wf-1"
T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
FIXTURES = Path(__file__).parent.parent / "fixtures" / "workflows"


def fixture_text(name: str) -> str:
    return (FIXTURES / name).read_text()


def task(name: str, *depends_on: str, **fields) -> w.TaskSpec:
    return w.TaskSpec(name=name, image="img", depends_on=list(depends_on), **fields)


def takes(task: str, output: str) -> w.InputRef:
    return w.InputRef(task=task, output=output)


def group(name: str, lead: str, barrier: bool = True) -> w.GroupSpec:
    return w.GroupSpec(name=name, lead=lead, barrier=barrier)


def workflow(*tasks: w.TaskSpec, groups: tuple[w.GroupSpec, ...] = (), timeout_s: int | None = None,
             name: str = "wf") -> w.WorkflowSpec:
    return w.WorkflowSpec(name=name, tasks=list(tasks), groups=list(groups), timeout_s=timeout_s)


# --- commands -----------------------------------------------------------------

def submit(spec: w.WorkflowSpec, wid: str = WF) -> w.SubmitWorkflow:
    return w.SubmitWorkflow(workflow_id=wid, spec=spec)


def start(name: str, attempt: int | None = None, wid: str = WF) -> w.RecordTaskStarted:
    return w.RecordTaskStarted(workflow_id=wid, task=name, attempt=attempt)


def exit_(name: str, code: int = 0, attempt: int | None = None, wid: str = WF) -> w.RecordTaskExited:
    return w.RecordTaskExited(workflow_id=wid, task=name, exit_code=code, attempt=attempt)


def cancel(reason: str = "", wid: str = WF) -> w.CancelWorkflow:
    return w.CancelWorkflow(workflow_id=wid, reason=reason)


def check_timeout(wid: str = WF) -> w.CheckWorkflowTimeout:
    return w.CheckWorkflowTimeout(workflow_id=wid)


# --- events -------------------------------------------------------------------

def submitted(spec: w.WorkflowSpec, wid: str = WF, at: datetime = T0) -> w.WorkflowSubmitted:
    return w.WorkflowSubmitted(workflow_id=wid, spec=spec, submitted_at=at)


def ready(spec: w.WorkflowSpec, name: str, attempt: int = 1, wid: str = WF) -> w.TaskReady:
    task_spec = next(t for t in spec.tasks if t.name == name)
    return w.TaskReady(workflow_id=wid, task=name, attempt=attempt,
                       job_id=task_job_id(wid, name, attempt), job=to_job_spec(task_spec))


def started(name: str, attempt: int = 1, wid: str = WF) -> w.TaskStarted:
    return w.TaskStarted(workflow_id=wid, task=name, attempt=attempt)


def succeeded(name: str, attempt: int = 1, code: int = 0, wid: str = WF) -> w.TaskSucceeded:
    return w.TaskSucceeded(workflow_id=wid, task=name, attempt=attempt, exit_code=code)


def failed(name: str, code: int = 1, attempt: int = 1, retryable: bool = False,
           wid: str = WF) -> w.TaskFailed:
    return w.TaskFailed(workflow_id=wid, task=name, attempt=attempt, exit_code=code,
                        retryable=retryable)


def retried(name: str, attempt: int, code: int, wid: str = WF) -> w.TaskRetried:
    return w.TaskRetried(workflow_id=wid, task=name, attempt=attempt, exit_code=code)


def blocked(name: str, by: str, wid: str = WF) -> w.TaskBlocked:
    return w.TaskBlocked(workflow_id=wid, task=name, blocked_by=by)


def ran(spec: w.WorkflowSpec, name: str, attempt: int = 1, wid: str = WF) -> list[Event]:
    """A task made ready, started and succeeded."""
    return [ready(spec, name, attempt, wid), started(name, attempt, wid),
            succeeded(name, attempt, wid=wid)]


# --- given / when ---------------------------------------------------------------

def when(given: list[Event], command: Command, now: datetime = T0) -> list[Event]:
    return decide(fold(given), command, now=now)


def later(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def state_after(given: list[Event]) -> WorkflowState:
    return fold(given)
