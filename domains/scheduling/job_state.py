"""The `job` aggregate's state and how events change it.

Guarantees:
- `JobState` is an immutable value; `evolve` returns a new one (singledispatch
  on the event type) and never raises for a job event: replay always succeeds.
- A terminal status (`TERMINAL`) is never left: events after it change nothing.
- `evolve_envelope` also remembers the ids (envelope `causationid`) of the last
  `APPLIED_LIMIT` commands applied, so a handler skips a redelivered command
  even after JetStream's dedupe window (RELIABILITY T9), and records from the
  envelope's time since when the job runs (for `job_decide.timed_out`).

`attempt` is the 1-based run number (every `JobRequeued` starts a new one;
a requeue only ever follows a placement, so once placed it equals the number
of the job's placements, the attempt its LaunchJob and executor reports carry);
`retries` counts only requeues after a failed exit: it is what `max_retries`
bounds, so a node loss or other requeue does not use up a job's retries.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from functools import singledispatch
from typing import Literal

from schemas import jobs as j
from schemas.envelope import Envelope
from schemas.values import WaitReason

JobStatus = Literal["none", "submitted", "admitted", "rejected", "queued", "placed", "starting",
                    "running", "succeeded", "failed", "cancelled", "preempted"]
TERMINAL: frozenset[str] = frozenset({"rejected", "succeeded", "failed", "cancelled", "preempted"})
ACTIVE: frozenset[str] = frozenset({"submitted", "admitted", "queued", "placed", "starting", "running"})
EXIT_CODE_REASON = "exit_code"  # the JobRequeued reason code that counts against max_retries
APPLIED_LIMIT = 64
_STATUS_AFTER: dict[type, JobStatus] = {
    j.JobAdmitted: "admitted", j.JobStarting: "starting", j.JobRunning: "running"}


@dataclass(frozen=True, slots=True)
class JobState:
    status: JobStatus = "none"
    job_id: str | None = None
    spec: j.JobSpec | None = None
    workflow_id: str | None = None
    task: str | None = None
    placements: tuple[j.Placement, ...] = ()
    gpu_model: str | None = None
    attempt: int = 0
    retries: int = 0
    wait_reason: WaitReason | None = None  # the last JobUnschedulable reason while queued
    exit_code: int | None = None
    outcome: str = ""  # why it ended: rejection, failure, cancel or preemption reason
    running_since: datetime | None = None  # set by evolve_envelope only
    applied: tuple[str, ...] = ()  # ids of the last APPLIED_LIMIT commands applied
    waits: tuple[str, ...] = ()  # ids of the last APPLIED_LIMIT wait-reason commands, kept apart


def evolve(state: JobState, event: j.Event) -> JobState:
    return _on(event, state)


@singledispatch
def _on(event: j.Event, state: JobState) -> JobState:
    raise TypeError(f"not a job event: {type(event).__name__}")  # a routing bug, not data


def _to(state: JobState, status: JobStatus, **changes: object) -> JobState:
    if state.status in TERMINAL:
        return state
    return replace(state, status=status, **changes)


@_on.register
def _(event: j.JobSubmitted, state: JobState) -> JobState:
    if state.status != "none":
        return state
    return replace(state, status="submitted", job_id=event.job_id, spec=event.spec,
                   workflow_id=event.workflow_id, task=event.task, attempt=1)


@_on.register(j.JobAdmitted)
@_on.register(j.JobStarting)
@_on.register(j.JobRunning)
def _(event: j.Event, state: JobState) -> JobState:
    return _to(state, _STATUS_AFTER[type(event)])


@_on.register
def _(event: j.JobRejected, state: JobState) -> JobState:
    return _to(state, "rejected", outcome=str(event.reason))


@_on.register
def _(event: j.JobQueued, state: JobState) -> JobState:
    return _to(state, "queued", wait_reason=None)


@_on.register
def _(event: j.JobUnschedulable, state: JobState) -> JobState:
    return _to(state, state.status, wait_reason=event.reason)


@_on.register
def _(event: j.JobPlaced, state: JobState) -> JobState:
    return _to(state, "placed", placements=tuple(event.placements),
               gpu_model=event.gpu_model, wait_reason=None)


@_on.register
def _(event: j.JobRequeued, state: JobState) -> JobState:
    failed_exit = event.reason.code == EXIT_CODE_REASON
    return _to(state, "queued", placements=(), gpu_model=None, wait_reason=None,
               attempt=event.attempt, retries=state.retries + failed_exit)


@_on.register
def _(event: j.JobSucceeded, state: JobState) -> JobState:
    return _to(state, "succeeded", exit_code=0)


@_on.register
def _(event: j.JobFailed, state: JobState) -> JobState:
    return _to(state, "failed", exit_code=event.exit_code, outcome=event.reason)


@_on.register
def _(event: j.JobCancelled, state: JobState) -> JobState:
    return _to(state, "cancelled", outcome=event.reason)


@_on.register
def _(event: j.JobPreempted, state: JobState) -> JobState:
    return _to(state, "preempted", outcome=f"{event.reason} by {event.by_job}")


def fold(events: Iterable[j.Event], state: JobState = JobState()) -> JobState:
    for event in events:
        state = evolve(state, event)
    return state


def evolve_envelope(state: JobState, envelope: Envelope) -> JobState:
    """Apply a stored event and remember its causing command and, if it starts running, when."""
    new = evolve(state, envelope.data)  # type: ignore[arg-type]
    since = None
    if new.status == "running":
        since = state.running_since if state.status == "running" else envelope.time
    # Wait reasons change on nearly every placement pass: they get a window of their own so a
    # long wait never pushes the commands that matter (PlaceJob, reports) out of `applied`.
    field = "waits" if isinstance(envelope.data, j.JobUnschedulable) else "applied"
    seen: tuple[str, ...] = getattr(state, field)
    cause = envelope.causationid
    if cause is not None and cause not in seen:
        seen = (*seen, cause)[-APPLIED_LIMIT:]
    return replace(new, running_since=since, **{field: seen})


def already_applied(state: JobState, command_id: str) -> bool:
    return command_id in state.applied or command_id in state.waits
