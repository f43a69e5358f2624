"""Workflows: DAGs of job-like tasks, their YAML spec and their lifecycle (scheduling domain).

Aggregate `workflow` (id = workflow id) under the submitting tenant.

A task is a `JobSpec` plus its place in the graph: `depends_on` (task names),
`inputs` (an upstream task's named output; consuming one implies depending on
that task), `outputs`, `retries` (how many times a `reschedule` exit may run
the task again), `exit_actions` (exit codes or ranges, e.g. `"0"`, `"1-3"`,
`"137,143"`, `"*"` for any other code, mapped to complete | fail |
reschedule; unmatched codes: 0 completes, anything else fails) and an
optional `group`. A group names its lead task; with `barrier` its members
become ready together, once every dependency of the group outside it
succeeded. The shapes here are syntax only; the graph rules (unknown
names, cycles, leads, exit-code keys) are checked by
`domains.scheduling.workflow.validate_workflow_spec`, which lists every
problem at once with its path.

Each run of a task is one job, `job_id = derived_id(workflow_id, task, attempt)`,
announced by `TaskReady`; the handler submits it with `workflow_id`/`task` set
and reports its start and exit back (`RecordTaskStarted`, `RecordTaskExited`).
Every task ends in exactly one of succeeded, failed, blocked (downstream of a
non-retryable failure; never run) or cancelled (by `WorkflowCancelled` or
`WorkflowTimedOut`, which list the job ids the handler must stop).
`TaskFailed` is always final; a rescheduled run emits `TaskRetried` instead.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BeforeValidator, Field

from schemas.base import Command, Event
from schemas.jobs import JobSpec
from schemas.values import Token, Value

ExitAction = Literal["complete", "fail", "reschedule"]


def _code_key(value: Any) -> Any:
    # YAML reads `0: complete` with an int key; keys are code expressions (str).
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


ExitCodes = Annotated[str, BeforeValidator(_code_key)]


class Problem(Value):
    """One problem of a spec: where (`tasks[2].depends_on[0]`) and what."""

    path: str
    message: str


class InputRef(Value):
    task: Token
    output: Token


class TaskSpec(JobSpec):
    """A job plus its place in the DAG. Retries are `retries`, not the job's `max_retries`."""

    depends_on: list[Token] = Field(default_factory=list)
    inputs: list[InputRef] = Field(default_factory=list)
    outputs: list[Token] = Field(default_factory=list)
    retries: Annotated[int, Field(ge=0, le=100)] = 0
    exit_actions: dict[ExitCodes, ExitAction] = Field(default_factory=dict)
    group: Token | None = None


class GroupSpec(Value):
    name: Token
    lead: Token
    barrier: bool = True


class WorkflowSpec(Value):
    name: Token
    timeout_s: Annotated[int, Field(gt=0)] | None = None
    tasks: list[TaskSpec] = Field(min_length=1)
    groups: list[GroupSpec] = Field(default_factory=list)


# --- commands ---------------------------------------------------------------

class SubmitWorkflow(Command):
    TYPE = "tessera.scheduling.submit_workflow.v1"
    workflow_id: Token
    spec: WorkflowSpec


class CancelWorkflow(Command):
    TYPE = "tessera.scheduling.cancel_workflow.v1"
    workflow_id: Token
    reason: str = ""


class RecordTaskStarted(Command):
    """The task's job runs. `attempt` (when known) lets a stale report be ignored."""

    TYPE = "tessera.scheduling.record_task_started.v1"
    workflow_id: Token
    task: Token
    attempt: Annotated[int, Field(ge=1)] | None = None


class RecordTaskExited(Command):
    TYPE = "tessera.scheduling.record_task_exited.v1"
    workflow_id: Token
    task: Token
    exit_code: int
    attempt: Annotated[int, Field(ge=1)] | None = None


class CheckWorkflowTimeout(Command):
    """Sent by a timer; times the workflow out if `timeout_s` has passed at decide's `now`."""

    TYPE = "tessera.scheduling.check_workflow_timeout.v1"
    workflow_id: Token


# --- events -----------------------------------------------------------------

class WorkflowSubmitted(Event):
    TYPE = "tessera.scheduling.workflow_submitted.v1"
    workflow_id: Token
    spec: WorkflowSpec
    submitted_at: AwareDatetime  # events carry no time of their own; timeouts count from here


class TaskReady(Event):
    """Run `job` as job `job_id` (= derived_id(workflow_id, task, attempt))."""

    TYPE = "tessera.scheduling.task_ready.v1"
    workflow_id: Token
    task: Token
    attempt: Annotated[int, Field(ge=1)]
    job_id: Token
    job: JobSpec


class TaskStarted(Event):
    TYPE = "tessera.scheduling.task_started.v1"
    workflow_id: Token
    task: Token
    attempt: Annotated[int, Field(ge=1)]


class TaskSucceeded(Event):
    TYPE = "tessera.scheduling.task_succeeded.v1"
    workflow_id: Token
    task: Token
    attempt: Annotated[int, Field(ge=1)]
    exit_code: int


class TaskFailed(Event):
    """Final. `retryable`: the exit asked for a reschedule but no retries were left."""

    TYPE = "tessera.scheduling.task_failed.v1"
    workflow_id: Token
    task: Token
    attempt: Annotated[int, Field(ge=1)]
    exit_code: int
    retryable: bool = False


class TaskRetried(Event):
    """A `reschedule` exit with retries left; `attempt` is the new run, announced by TaskReady next."""

    TYPE = "tessera.scheduling.task_retried.v1"
    workflow_id: Token
    task: Token
    attempt: Annotated[int, Field(ge=2)]
    exit_code: int


class TaskBlocked(Event):
    """Downstream of a non-retryable failure: skipped, never run."""

    TYPE = "tessera.scheduling.task_blocked.v1"
    workflow_id: Token
    task: Token
    blocked_by: Token


class WorkflowSucceeded(Event):
    TYPE = "tessera.scheduling.workflow_succeeded.v1"
    workflow_id: Token


class WorkflowFailed(Event):
    TYPE = "tessera.scheduling.workflow_failed.v1"
    workflow_id: Token
    reason: str
    failed_tasks: list[Token] = Field(default_factory=list)


class WorkflowCancelled(Event):
    """Unfinished tasks end cancelled; the handler stops `stop_jobs` (jobs of ready/running tasks)."""

    TYPE = "tessera.scheduling.workflow_cancelled.v1"
    workflow_id: Token
    reason: str = ""
    stop_jobs: list[Token] = Field(default_factory=list)


class WorkflowTimedOut(Event):
    """Like WorkflowCancelled, because `timeout_s` passed since `submitted_at`."""

    TYPE = "tessera.scheduling.workflow_timed_out.v1"
    workflow_id: Token
    timeout_s: int
    timed_out_at: AwareDatetime
    stop_jobs: list[Token] = Field(default_factory=list)
