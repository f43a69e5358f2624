"""Factories for job specs, commands, events and histories (given/when/then tests).

`history(status)` returns the events that bring a job to `status` by the
shortest legal path; `envelope(event, cause=...)` wraps an event as the log
stores it, for tests of `evolve_envelope`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from schemas import jobs as j
from schemas.envelope import Envelope
from schemas.values import WaitReason

T0 = datetime(2025, 1, 1, tzinfo=UTC)
JOB = "j1"


def spec(**overrides: Any) -> j.JobSpec:
    fields: dict[str, Any] = {"name": "train", "image": "ghcr.io/acme/train:1", "gpus": 1}
    return j.JobSpec(**{**fields, **overrides})


def placement(node: str = "n1", gpus: tuple[int, ...] = (0,), cluster: str = "c1") -> j.Placement:
    return j.Placement(cluster=cluster, node=node, gpu_indices=list(gpus))


def reason(code: str = "insufficient_gpus", **details: Any) -> WaitReason:
    return WaitReason(code=code, details=details)


# --- events -----------------------------------------------------------------

def job_submitted(job_id: str = JOB, **spec_overrides: Any) -> j.JobSubmitted:
    return j.JobSubmitted(job_id=job_id, spec=spec(**spec_overrides))


def job_placed(job_id: str = JOB, *placements: j.Placement, gpu_model: str | None = None) -> j.JobPlaced:
    return j.JobPlaced(job_id=job_id, placements=list(placements) or [placement()], gpu_model=gpu_model)


PATH = ["submitted", "admitted", "queued", "placed", "starting", "running"]


def history(status: str, job_id: str = JOB, **spec_overrides: Any) -> list[j.Event]:
    """Events that bring a job with `spec(**spec_overrides)` to `status`."""
    submitted = job_submitted(job_id, **spec_overrides)
    steps: list[j.Event] = [
        submitted,
        j.JobAdmitted(job_id=job_id),
        j.JobQueued(job_id=job_id, spec=submitted.spec),
        job_placed(job_id, *[placement(f"n{m}", tuple(range(submitted.spec.gpus)))
                             for m in range(submitted.spec.gang)]),
        j.JobStarting(job_id=job_id),
        j.JobRunning(job_id=job_id),
    ]
    if status in PATH:
        return steps[: PATH.index(status) + 1]
    ending: dict[str, tuple[str, j.Event]] = {
        "rejected": ("submitted", j.JobRejected(job_id=job_id, reason=reason("quota_exceeded"))),
        "succeeded": ("running", j.JobSucceeded(job_id=job_id)),
        "failed": ("running", j.JobFailed(job_id=job_id, exit_code=1)),
        "cancelled": ("queued", j.JobCancelled(job_id=job_id, reason="user")),
        "preempted": ("running", j.JobPreempted(job_id=job_id, by_job="j9", reason=reason("preempted"))),
    }
    before, last = ending[status]
    return [*history(before, job_id, **spec_overrides), last]


# --- commands ---------------------------------------------------------------

def submit_job(job_id: str = JOB, **spec_overrides: Any) -> j.SubmitJob:
    return j.SubmitJob(job_id=job_id, spec=spec(**spec_overrides))


def place_job(job_id: str = JOB, *placements: j.Placement) -> j.PlaceJob:
    return j.PlaceJob(job_id=job_id, placements=list(placements) or [placement()])


def exited(code: int, job_id: str = JOB) -> j.ReportJobExited:
    return j.ReportJobExited(job_id=job_id, exit_code=code)


def node_lost(node: str = "n0", job_id: str = JOB, cluster: str = "c1") -> j.ReportNodeLost:
    return j.ReportNodeLost(job_id=job_id, cluster=cluster, node=node)


def preempt(job_id: str = JOB) -> j.PreemptJob:
    return j.PreemptJob(job_id=job_id, by_job="j9", reason=reason("preempted", priority=900))


def every_command(job_id: str = JOB) -> list[j.Command]:
    """One instance of every job command except SubmitJob."""
    return [
        j.AdmitJob(job_id=job_id),
        j.RejectJob(job_id=job_id, reason=reason("quota_exceeded")),
        place_job(job_id, placement("n0")),
        j.MarkUnschedulable(job_id=job_id, reason=reason()),
        j.ReportJobStarting(job_id=job_id),
        j.ReportJobRunning(job_id=job_id),
        exited(0, job_id),
        j.CancelJob(job_id=job_id),
        preempt(job_id),
        node_lost("n0", job_id),
    ]


# --- envelopes --------------------------------------------------------------

def envelope(event: j.Event, *, cause: str, version: int = 1, at: datetime = T0,
             index: int = 0) -> Envelope:
    command = Envelope(specversion="1.0", id=cause, source="/test", type=j.CancelJob.TYPE,
                       time=at, tenant="acme", actor="tester", correlationid=cause,
                       data=j.CancelJob(job_id=JOB))
    return Envelope.for_event(event, cause=command, index=index, aggregate="job",
                              aggregateid=event.job_id, version=version,  # type: ignore[attr-defined]
                              time=at)


def envelopes(events: list[j.Event], *, cause: str = "cmd", at: datetime = T0) -> list[Envelope]:
    """Each event as its own decision, caused by `<cause>-<n>`, one second apart."""
    return [envelope(e, cause=f"{cause}-{n}", version=n + 1, at=at + timedelta(seconds=n))
            for n, e in enumerate(events)]
