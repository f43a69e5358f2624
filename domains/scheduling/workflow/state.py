"""The `workflow` aggregate's state and how events change it.

Guarantees:
- `WorkflowState` and `TaskState` are immutable values; `evolve` returns a
  new state (one `singledispatch` registration per workflow event) and never
  raises for a known event, so replaying the log always succeeds.
- A terminal workflow (`is_terminal`) is never left: later events change nothing.
- A task's status only moves forward: pending -> ready -> running ->
  succeeded | failed, or (retry) back to ready with the next attempt;
  pending -> blocked; any unfinished task -> cancelled when the workflow is
  cancelled or times out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import singledispatch
from types import MappingProxyType
from typing import Literal

from domains.scheduling.workflow.dag import Dag, build_dag
from schemas import workflows as w
from schemas.base import Event

TaskStatus = Literal["pending", "ready", "running", "succeeded", "failed", "blocked", "cancelled"]
WorkflowStatus = Literal["none", "running", "succeeded", "failed", "cancelled", "timed_out"]
TASK_TERMINAL = frozenset({"succeeded", "failed", "blocked", "cancelled"})
TASK_ACTIVE = frozenset({"ready", "running"})  # a job exists for the current attempt
WORKFLOW_TERMINAL = frozenset({"succeeded", "failed", "cancelled", "timed_out"})


@dataclass(frozen=True, slots=True)
class TaskState:
    status: TaskStatus = "pending"
    attempt: int = 0  # 0 until first ready
    job_id: str | None = None
    exit_code: int | None = None
    blocked_by: str | None = None


@dataclass(frozen=True, slots=True)
class WorkflowState:
    status: WorkflowStatus = "none"
    workflow_id: str | None = None
    spec: w.WorkflowSpec | None = None
    dag: Dag | None = None
    submitted_at: datetime | None = None
    tasks: Mapping[str, TaskState] = field(default_factory=lambda: MappingProxyType({}))
    reason: str = ""

    @property
    def is_terminal(self) -> bool:
        return self.status in WORKFLOW_TERMINAL

    def task_spec(self, name: str) -> w.TaskSpec:
        assert self.spec is not None
        return next(t for t in self.spec.tasks if t.name == name)

    def with_tasks(self, changes: Mapping[str, TaskState]) -> WorkflowState:
        return replace(self, tasks=MappingProxyType({**self.tasks, **changes}))


def fold(events: Iterable[Event], state: WorkflowState | None = None) -> WorkflowState:
    state = state if state is not None else WorkflowState()
    for event in events:
        state = evolve(state, event)
    return state


def evolve(state: WorkflowState, event: Event) -> WorkflowState:
    return _on(event, state)


@singledispatch
def _on(event: Event, state: WorkflowState) -> WorkflowState:
    raise TypeError(f"not a workflow event: {type(event).__name__}")


@_on.register
def _(event: w.WorkflowSubmitted, state: WorkflowState) -> WorkflowState:
    if state.status != "none":
        return state
    tasks = MappingProxyType({t.name: TaskState() for t in event.spec.tasks})
    return WorkflowState(status="running", workflow_id=event.workflow_id, spec=event.spec,
                         dag=build_dag(event.spec), submitted_at=event.submitted_at, tasks=tasks)


def _task(state: WorkflowState, name: str, **changes) -> WorkflowState:
    if state.is_terminal or name not in state.tasks:
        return state
    return state.with_tasks({name: replace(state.tasks[name], **changes)})


@_on.register
def _(event: w.TaskReady, state: WorkflowState) -> WorkflowState:
    return _task(state, event.task, status="ready", attempt=event.attempt, job_id=event.job_id)


@_on.register
def _(event: w.TaskStarted, state: WorkflowState) -> WorkflowState:
    return _task(state, event.task, status="running")


@_on.register
def _(event: w.TaskSucceeded, state: WorkflowState) -> WorkflowState:
    return _task(state, event.task, status="succeeded", exit_code=event.exit_code)


@_on.register
def _(event: w.TaskFailed, state: WorkflowState) -> WorkflowState:
    return _task(state, event.task, status="failed", exit_code=event.exit_code)


@_on.register
def _(event: w.TaskRetried, state: WorkflowState) -> WorkflowState:
    # The next run is announced by the TaskReady that follows in the same decision.
    return _task(state, event.task, exit_code=event.exit_code)


@_on.register
def _(event: w.TaskBlocked, state: WorkflowState) -> WorkflowState:
    return _task(state, event.task, status="blocked", blocked_by=event.blocked_by)


def _end(state: WorkflowState, status: WorkflowStatus, reason: str = "") -> WorkflowState:
    if state.is_terminal or state.status == "none":
        return state
    cancelled = {name: replace(t, status="cancelled")
                 for name, t in state.tasks.items() if t.status not in TASK_TERMINAL}
    return replace(state.with_tasks(cancelled), status=status, reason=reason)


@_on.register
def _(event: w.WorkflowSucceeded, state: WorkflowState) -> WorkflowState:
    return _end(state, "succeeded")


@_on.register
def _(event: w.WorkflowFailed, state: WorkflowState) -> WorkflowState:
    return _end(state, "failed", event.reason)


@_on.register
def _(event: w.WorkflowCancelled, state: WorkflowState) -> WorkflowState:
    return _end(state, "cancelled", event.reason)


@_on.register
def _(event: w.WorkflowTimedOut, state: WorkflowState) -> WorkflowState:
    return _end(state, "timed_out", f"timeout of {event.timeout_s}s passed")

