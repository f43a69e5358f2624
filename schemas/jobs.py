"""Jobs: GPU container and VM jobs, their spec and their lifecycle (scheduling domain).

Aggregate `job` (id = job id) under the submitting tenant. Lifecycle:
submitted -> admitted | rejected -> queued -> placed -> starting -> running ->
succeeded | failed | cancelled | preempted. `JobRequeued` returns a placed or
running job to the queue (preemption of a reschedulable job, node lost with
`on_node_lost: reschedule`, a retryable failure).

Placement is decided by the allocation domain and recorded on the job with
`PlaceJob`; admission by the policy domain (`AdmitJob` / `RejectJob`).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from schemas.base import Command, Event
from schemas.values import Labels, NonNegative, Token, Value, WaitReason

JobKind = Literal["container", "vm"]
Terminal = Literal["succeeded", "failed", "cancelled", "preempted"]


class Topology(Value):
    same_nvlink_domain: bool = True  # all GPUs of one node-slice in one NVLink domain
    same_rack: bool = False  # all gang members in one rack


class JobSpec(Value):
    name: Token
    kind: JobKind = "container"
    image: str = Field(min_length=1)
    command: list[str] = Field(default_factory=list)
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    gpus: Annotated[int, Field(ge=0, le=1024)] = 0  # per gang member
    gpu_model: str | None = None
    min_gpu_memory_gb: NonNegative | None = None
    cpu: float = Field(default=1, gt=0)
    memory_gb: float = Field(default=1, gt=0)
    priority: Annotated[int, Field(ge=0, le=1000)] = 100
    preemptible: bool = False
    timeout_s: Annotated[int, Field(gt=0)] | None = None
    labels: Labels = Field(default_factory=dict)
    node_selector: Labels = Field(default_factory=dict)  # node labels the job requires
    pool: Token | None = None
    platform: Token | None = None
    topology: Topology = Field(default_factory=Topology)
    gang: Annotated[int, Field(ge=1, le=4096)] = 1  # members placed all-or-nothing
    on_node_lost: Literal["reschedule", "fail"] = "fail"
    max_retries: Annotated[int, Field(ge=0, le=100)] = 0
    duration_s: Annotated[float, Field(gt=0)] | None = None  # simulated runtime (simulator backend)

    @model_validator(mode="after")
    def _gpu_constraints_need_gpus(self) -> JobSpec:
        if self.gpus == 0 and (self.gpu_model or self.min_gpu_memory_gb):
            raise ValueError("gpu_model and min_gpu_memory_gb need gpus >= 1")
        return self


class Placement(Value):
    """One gang member's node and the exact GPU indices it holds there."""

    cluster: Token
    node: Token
    gpu_indices: list[NonNegative] = Field(default_factory=list)


# --- commands ---------------------------------------------------------------

class SubmitJob(Command):
    TYPE = "tessera.scheduling.submit_job.v1"
    job_id: Token
    spec: JobSpec
    workflow_id: Token | None = None
    task: Token | None = None


class AdmitJob(Command):
    TYPE = "tessera.scheduling.admit_job.v1"
    job_id: Token


class RejectJob(Command):
    TYPE = "tessera.scheduling.reject_job.v1"
    job_id: Token
    reason: WaitReason


class PlaceJob(Command):
    TYPE = "tessera.scheduling.place_job.v1"
    job_id: Token
    placements: list[Placement] = Field(min_length=1)


class MarkUnschedulable(Command):
    TYPE = "tessera.scheduling.mark_unschedulable.v1"
    job_id: Token
    reason: WaitReason


# Executor reports name the run they observed (`attempt`, from LaunchJob); the job ignores a
# report of another run than its current one (a late report of a requeued run). None: unknown.
ReportedAttempt = Annotated[int, Field(ge=1)] | None


class ReportJobStarting(Command):
    TYPE = "tessera.scheduling.report_job_starting.v1"
    job_id: Token
    attempt: ReportedAttempt = None


class ReportJobRunning(Command):
    TYPE = "tessera.scheduling.report_job_running.v1"
    job_id: Token
    attempt: ReportedAttempt = None


class ReportJobExited(Command):
    TYPE = "tessera.scheduling.report_job_exited.v1"
    job_id: Token
    exit_code: int
    reason: str = ""
    attempt: ReportedAttempt = None
    cpu_seconds: Annotated[float, Field(ge=0)] | None = None  # resource use of the run, when measured
    max_rss_mb: Annotated[float, Field(ge=0)] | None = None


class CancelJob(Command):
    TYPE = "tessera.scheduling.cancel_job.v1"
    job_id: Token
    reason: str = ""


class PreemptJob(Command):
    TYPE = "tessera.scheduling.preempt_job.v1"
    job_id: Token
    by_job: Token
    reason: WaitReason


class ReportNodeLost(Command):
    """The job's node was lost: reschedule or fail, per the job's `on_node_lost`."""

    TYPE = "tessera.scheduling.report_node_lost.v1"
    job_id: Token
    cluster: Token
    node: Token


# --- events -----------------------------------------------------------------

class JobSubmitted(Event):
    TYPE = "tessera.scheduling.job_submitted.v1"
    job_id: Token
    spec: JobSpec
    workflow_id: Token | None = None
    task: Token | None = None


class JobAdmitted(Event):
    TYPE = "tessera.scheduling.job_admitted.v1"
    job_id: Token


class JobRejected(Event):
    TYPE = "tessera.scheduling.job_rejected.v1"
    job_id: Token
    reason: WaitReason


class JobQueued(Event):
    TYPE = "tessera.scheduling.job_queued.v1"
    job_id: Token
    spec: JobSpec  # the allocator places from the queue without loading the job


class JobUnschedulable(Event):
    """Still queued; why it cannot be placed now. Emitted when the reason changes."""

    TYPE = "tessera.scheduling.job_unschedulable.v1"
    job_id: Token
    reason: WaitReason


class JobPlaced(Event):
    TYPE = "tessera.scheduling.job_placed.v1"
    job_id: Token
    placements: list[Placement]
    gpu_model: str | None = None  # what metering bills


class JobStarting(Event):
    TYPE = "tessera.scheduling.job_starting.v1"
    job_id: Token


class JobRunning(Event):
    TYPE = "tessera.scheduling.job_running.v1"
    job_id: Token


class JobRequeued(Event):
    """Back to the queue, GPUs released: preempted-but-reschedulable, node lost, retryable failure."""

    TYPE = "tessera.scheduling.job_requeued.v1"
    job_id: Token
    reason: WaitReason
    attempt: Annotated[int, Field(ge=1)]


class JobSucceeded(Event):
    TYPE = "tessera.scheduling.job_succeeded.v1"
    job_id: Token


class JobFailed(Event):
    TYPE = "tessera.scheduling.job_failed.v1"
    job_id: Token
    exit_code: int | None = None
    reason: str = ""


class JobCancelled(Event):
    TYPE = "tessera.scheduling.job_cancelled.v1"
    job_id: Token
    reason: str = ""


class JobPreempted(Event):
    TYPE = "tessera.scheduling.job_preempted.v1"
    job_id: Token
    by_job: Token
    reason: WaitReason
