"""Decisions of the `job` aggregate: `decide(state, command, *, now) -> list[Event]`.

A command its status does not allow is `JobIllegalTransition` (naming both),
one for a job never submitted `JobNotFound`; a refusal emits nothing. Rules:
- SubmitJob creates the job; the identical submission again is a no-op, a
  different one under the same id is `JobExists`.
- AdmitJob emits JobAdmitted and JobQueued in one decision.
- PlaceJob needs exactly `spec.gang` placements with `spec.gpus` distinct GPU
  indices each, no GPU twice; otherwise `InvalidPlacement` lists every problem.
- MarkUnschedulable emits only when the wait reason changed.
- Executor reports (ReportJobStarting/Running/Exited) carrying an `attempt`
  other than the job's current one (a run requeued since), or for a job that
  already ended (a cancel raced the run's report), are stale and change
  nothing; a report without `attempt` is checked as before.
- ReportJobExited: 0 succeeds; otherwise the job is requeued while
  `retries < spec.max_retries` (so at most max_retries + 1 runs), else fails.
- PreemptJob needs `spec.preemptible` and ends the job as `preempted`, terminal
  as in the lifecycle; running it again is the submitter's or workflow's call.
- ReportNodeLost for a node the job runs on: `on_node_lost` reschedule
  requeues, fail fails; for a node it does not use it changes nothing.
- Timeouts: `timed_out(state, now)` tells a sweeper (bus/) that a job has run
  longer than `spec.timeout_s` since `state.running_since` (the JobRunning
  envelope's time); the sweeper sends `CancelJob(reason="timeout")`.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from functools import singledispatch

from domains.scheduling import errors
from domains.scheduling.job_state import ACTIVE, EXIT_CODE_REASON, TERMINAL, JobState
from schemas import jobs as j
from schemas.values import WaitReason

ON_NODE = frozenset({"placed", "starting", "running"})
REPORTS = (j.ReportJobStarting, j.ReportJobRunning, j.ReportJobExited)
ALLOWED: dict[type[j.Command], frozenset[str]] = {
    j.AdmitJob: frozenset({"submitted"}),
    j.RejectJob: frozenset({"submitted"}),
    j.PlaceJob: frozenset({"queued"}),
    j.MarkUnschedulable: frozenset({"queued"}),
    j.ReportJobStarting: frozenset({"placed"}),
    j.ReportJobRunning: frozenset({"placed", "starting"}),
    j.ReportJobExited: frozenset({"starting", "running"}),
    j.CancelJob: ACTIVE,
    j.PreemptJob: ON_NODE,
    j.ReportNodeLost: ON_NODE,
}


def decide(state: JobState, command: j.Command, *, now: datetime) -> list[j.Event]:
    if isinstance(command, j.SubmitJob):
        return _submit(state, command)
    allowed = ALLOWED.get(type(command))
    if allowed is None:
        raise TypeError(f"not a job command: {type(command).__name__}")
    name = type(command).__name__
    job_id: str = command.job_id  # type: ignore[attr-defined]
    if state.status == "none":
        raise errors.JobNotFound(job_id, name)
    if job_id != state.job_id:
        raise errors.WrongJob(f"{name} for {job_id!r} sent to {state.job_id!r}", field="job_id")
    if isinstance(command, REPORTS) and command.attempt is not None and (
            command.attempt != state.attempt or state.status in TERMINAL):
        return []  # a report of an earlier run (requeued since) or of a run that outlived its job: stale
    if state.status not in allowed:
        raise errors.JobIllegalTransition(job_id, state.status, name, allowed)
    assert state.spec is not None  # every status but "none" has one
    return _decide(command, state, state.spec)


def timed_out(state: JobState, now: datetime) -> bool:
    """Whether a running job has run longer than its spec's `timeout_s`."""
    if state.status != "running" or state.running_since is None or state.spec is None:
        return False
    limit = state.spec.timeout_s
    return limit is not None and (now - state.running_since).total_seconds() >= limit


def _submit(state: JobState, cmd: j.SubmitJob) -> list[j.Event]:
    if (cmd.workflow_id is None) != (cmd.task is None):
        field = "task" if cmd.task is None else "workflow_id"
        raise errors.InvalidSubmission("workflow_id and task go together", field=field)
    submitted = j.JobSubmitted(job_id=cmd.job_id, spec=cmd.spec,
                               workflow_id=cmd.workflow_id, task=cmd.task)
    if state.status == "none":
        return [submitted]
    submission = (cmd.job_id, cmd.spec, cmd.workflow_id, cmd.task)
    if (state.job_id, state.spec, state.workflow_id, state.task) == submission:
        return []
    raise errors.JobExists(f"job {cmd.job_id!r} exists with another submission", field="job_id")


@singledispatch
def _decide(cmd: j.Command, state: JobState, spec: j.JobSpec) -> list[j.Event]:
    raise TypeError(f"not a job command: {type(cmd).__name__}")


_RECORDS: dict[type[j.Command], type[j.Event]] = {
    j.RejectJob: j.JobRejected, j.ReportJobStarting: j.JobStarting,
    j.ReportJobRunning: j.JobRunning, j.CancelJob: j.JobCancelled,
}


@_decide.register(j.RejectJob)
@_decide.register(j.ReportJobStarting)
@_decide.register(j.ReportJobRunning)
@_decide.register(j.CancelJob)
def _(cmd: j.Command, state: JobState, spec: j.JobSpec) -> list[j.Event]:
    """Commands whose event records them field for field (the event's fields: not a report's attempt)."""
    event = _RECORDS[type(cmd)]
    return [event(**{f: getattr(cmd, f) for f in event.model_fields})]


@_decide.register
def _(cmd: j.AdmitJob, state: JobState, spec: j.JobSpec) -> list[j.Event]:
    return [j.JobAdmitted(job_id=cmd.job_id), j.JobQueued(job_id=cmd.job_id, spec=spec)]


@_decide.register
def _(cmd: j.PlaceJob, state: JobState, spec: j.JobSpec) -> list[j.Event]:
    problems = _placement_problems(spec, cmd.placements)
    if problems:
        raise errors.InvalidPlacement(problems)
    return [j.JobPlaced(job_id=cmd.job_id, placements=cmd.placements,
                        gpu_model=spec.gpu_model)]


def _placement_problems(spec: j.JobSpec, placements: list[j.Placement]) -> list[tuple[str, str]]:
    problems = []
    if len(placements) != spec.gang:
        problems.append(("placements", f"{len(placements)} members, the gang needs {spec.gang}"))
    held = Counter((p.cluster, p.node, i) for p in placements for i in set(p.gpu_indices))
    for n, p in enumerate(placements):
        path = f"placements[{n}].gpu_indices"
        if len(p.gpu_indices) != spec.gpus:
            problems.append((path, f"{len(p.gpu_indices)} GPUs, each member needs {spec.gpus}"))
        if len(set(p.gpu_indices)) != len(p.gpu_indices):
            problems.append((path, "a GPU index appears twice"))
        if any(held[(p.cluster, p.node, i)] > 1 for i in p.gpu_indices):
            problems.append((path, f"shares a GPU of {p.cluster}/{p.node} with another member"))
    return problems


@_decide.register
def _(cmd: j.MarkUnschedulable, state: JobState, spec: j.JobSpec) -> list[j.Event]:
    if cmd.reason == state.wait_reason:
        return []
    return [j.JobUnschedulable(job_id=cmd.job_id, reason=cmd.reason)]


@_decide.register
def _(cmd: j.ReportJobExited, state: JobState, spec: j.JobSpec) -> list[j.Event]:
    if cmd.exit_code == 0:
        return [j.JobSucceeded(job_id=cmd.job_id)]
    if state.retries < spec.max_retries:
        reason = WaitReason(code=EXIT_CODE_REASON, details={"exit_code": cmd.exit_code})
        return [j.JobRequeued(job_id=cmd.job_id, reason=reason, attempt=state.attempt + 1)]
    return [j.JobFailed(job_id=cmd.job_id, exit_code=cmd.exit_code,
                        reason=cmd.reason or f"exit code {cmd.exit_code}")]


@_decide.register
def _(cmd: j.PreemptJob, state: JobState, spec: j.JobSpec) -> list[j.Event]:
    if not spec.preemptible:
        raise errors.NotPreemptible(f"job {cmd.job_id!r} is not preemptible",
                                    field="spec.preemptible")
    return [j.JobPreempted(job_id=cmd.job_id, by_job=cmd.by_job, reason=cmd.reason)]


@_decide.register
def _(cmd: j.ReportNodeLost, state: JobState, spec: j.JobSpec) -> list[j.Event]:
    if not any((p.cluster, p.node) == (cmd.cluster, cmd.node) for p in state.placements):
        return []
    if spec.on_node_lost == "reschedule":
        reason = WaitReason(code="node_lost", details={"cluster": cmd.cluster, "node": cmd.node})
        return [j.JobRequeued(job_id=cmd.job_id, reason=reason, attempt=state.attempt + 1)]
    return [j.JobFailed(job_id=cmd.job_id, reason=f"node lost: {cmd.cluster}/{cmd.node}")]
