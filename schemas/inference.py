"""Managed inference: deployments of a model, their replicas, and how replicas report (inference domain).

Aggregate `deployment` (id = deployment_id, minted by the edge) under the
tenant that owns it: `evt.<tenant>.deployment.<id>.<event>`. A deployment
serves `spec.model` (the name clients put in OpenAI requests) with an engine
("vllm" on GPUs, "cpu" for GPU-less machines) on `replicas` replicas, each an
ordinary job (schemas/jobs.py) placed by the existing allocator.

Replica identity: a replica *slot* has an index (`replica`, 0-based, a label
for people and routing); every job started for a slot gets a fresh
`generation` (deployment-wide counter, 1-based) and the job id
`domains.inference.replica_job_id(deployment_id, replica, generation)`. The
job's command line is the agent's contract:

    tessera agent --deployment <id> --replica <n> --generation <g>
                  --model <model> --engine <vllm|cpu> --max-concurrent <k> [-- <engine_args>...]

Reports (RecordReplicaState from the control plane's inference reactor;
ReportReplicaReady / ReportReplicaLost from the agent or discovery) name
`replica` and `generation`; a report of another generation than the slot's
current one is stale and decides nothing.

Lifecycle and rules: domains/inference/__init__.py.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from schemas.base import Command, Event
from schemas.jobs import JobSpec
from schemas.values import Labels, Token, Value

Engine = Literal["vllm", "cpu"]
DeploymentStatus = Literal["requested", "placed", "serving", "degraded", "stopped"]
ReplicaStatus = Literal["pending", "placed", "starting", "running", "ready", "lost", "failed"]
# What the replica's job did, as RecordReplicaState reports it (the job's status after the event).
ReplicaJobState = Literal["waiting", "placed", "starting", "running", "requeued",
                          "succeeded", "failed", "cancelled", "preempted", "rejected"]

DeploymentName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$"), Field(
    description="1-63 chars: A-Z a-z 0-9 '_' '-', starting with a letter or digit")]
ModelName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,199}$"), Field(
    description="the model name clients request, e.g. 'HuggingFaceTB/SmolLM2-135M-Instruct'")]
EngineArg = Annotated[str, StringConstraints(min_length=1, max_length=1000)]
ReplicaIndex = Annotated[int, Field(ge=0, le=1023)]
Generation = Annotated[int, Field(ge=1)]
Reason = Annotated[str, StringConstraints(max_length=1000)]
ReplicaCount = Annotated[int, Field(ge=0, le=1024)]


class AutoscaleSpec(Value):
    """Replicas follow load: demand = running + waiting requests over the ready replicas.

    Scale up to ceil(demand / (max_concurrent * target_utilization)) when that
    is above the desired count; scale down one replica at a time once demand
    fits in fewer replicas at `scale_down_utilization` (< target: the band in
    between is the hysteresis). Each direction waits its cooldown after the
    last scale. Always within [min_replicas, max_replicas].
    """

    target_utilization: float = Field(default=0.7, gt=0, le=1)
    scale_down_utilization: float = Field(default=0.3, ge=0, lt=1)
    scale_up_cooldown_s: float = Field(default=30, ge=0)
    scale_down_cooldown_s: float = Field(default=300, ge=0)


class DeploymentSpec(Value):
    name: DeploymentName
    model: ModelName
    engine: Engine = "vllm"
    engine_args: list[EngineArg] = Field(default_factory=list, max_length=100)
    image: str | None = Field(default=None, min_length=1)  # None: the engine's default agent image
    min_replicas: Annotated[int, Field(ge=1, le=1024)] = 1
    max_replicas: Annotated[int, Field(ge=1, le=1024)] = 1
    replicas: ReplicaCount | None = None  # initial desired count; None = min_replicas
    gpus: Annotated[int, Field(ge=0, le=64)] = 1  # per replica; 0 only for engine "cpu"
    gpu_model: str | None = None
    cpu: float = Field(default=4, gt=0)
    memory_gb: float = Field(default=16, gt=0)
    max_concurrent_requests: Annotated[int, Field(ge=1, le=100_000)] = 64  # per replica
    max_restarts: Annotated[int, Field(ge=0, le=100)] = 3  # per replica slot, re-armed by ScaleDeployment
    pool: Token | None = None
    priority: Annotated[int, Field(ge=0, le=1000)] = 100
    labels: Labels = Field(default_factory=dict)
    node_selector: Labels = Field(default_factory=dict)
    autoscale: AutoscaleSpec | None = None  # None: replicas change only by ScaleDeployment


# --- commands ---------------------------------------------------------------

class CreateDeployment(Command):
    TYPE = "tessera.inference.create_deployment.v1"
    deployment_id: Token
    spec: DeploymentSpec


class ScaleDeployment(Command):
    """Set the desired replica count (within min/max); also restarts slots that used up their restarts.

    `from_replicas` (the autoscaler sets it): apply only if the desired count is
    still this one; a recommendation made from an outdated view decides nothing.
    """

    TYPE = "tessera.inference.scale_deployment.v1"
    deployment_id: Token
    replicas: ReplicaCount
    from_replicas: ReplicaCount | None = None
    reason: Reason = ""


class StopDeployment(Command):
    TYPE = "tessera.inference.stop_deployment.v1"
    deployment_id: Token
    reason: Reason = ""


class RecordReplicaState(Command):
    """What a replica's job did (sent by the control plane's inference reactor from job events)."""

    TYPE = "tessera.inference.record_replica_state.v1"
    deployment_id: Token
    replica: ReplicaIndex
    generation: Generation
    state: ReplicaJobState
    reason: Reason = ""
    exit_code: int | None = None


class ReportReplicaReady(Command):
    """The replica's agent has a healthy engine and registered for discovery."""

    TYPE = "tessera.inference.report_replica_ready.v1"
    deployment_id: Token
    replica: ReplicaIndex
    generation: Generation
    endpoint: Annotated[str, StringConstraints(max_length=500)] = ""


class ReportReplicaLost(Command):
    """The replica's agent stopped heartbeating or deregistered (its job may still run)."""

    TYPE = "tessera.inference.report_replica_lost.v1"
    deployment_id: Token
    replica: ReplicaIndex
    generation: Generation
    reason: Reason = ""


# --- events -----------------------------------------------------------------

class DeploymentRequested(Event):
    TYPE = "tessera.inference.deployment_requested.v1"
    deployment_id: Token
    spec: DeploymentSpec
    replicas: ReplicaCount  # the initial desired count


class DeploymentScaled(Event):
    TYPE = "tessera.inference.deployment_scaled.v1"
    deployment_id: Token
    replicas: ReplicaCount
    previous: ReplicaCount
    reason: Reason = ""


class DeploymentStopped(Event):
    TYPE = "tessera.inference.deployment_stopped.v1"
    deployment_id: Token
    reason: Reason = ""


class DeploymentStatusChanged(Event):
    TYPE = "tessera.inference.deployment_status_changed.v1"
    deployment_id: Token
    status: DeploymentStatus
    previous: DeploymentStatus
    ready: ReplicaCount
    desired: ReplicaCount


class ReplicaScheduled(Event):
    """A job is to run for this slot: the inference reactor submits `job` as `job_id`."""

    TYPE = "tessera.inference.replica_scheduled.v1"
    deployment_id: Token
    replica: ReplicaIndex
    generation: Generation
    job_id: Token
    job: JobSpec
    restarts: Annotated[int, Field(ge=0)] = 0  # how often this slot's job was replaced before (vs max_restarts)


class ReplicaStateChanged(Event):
    """The replica's job moved (pending, placed, starting, running); `reason` says why it waits or went back."""

    TYPE = "tessera.inference.replica_state_changed.v1"
    deployment_id: Token
    replica: ReplicaIndex
    generation: Generation
    status: ReplicaStatus
    reason: Reason = ""


class ReplicaReady(Event):
    TYPE = "tessera.inference.replica_ready.v1"
    deployment_id: Token
    replica: ReplicaIndex
    generation: Generation
    endpoint: str = ""


class ReplicaLost(Event):
    TYPE = "tessera.inference.replica_lost.v1"
    deployment_id: Token
    replica: ReplicaIndex
    generation: Generation
    reason: Reason = ""


class ReplicaFailed(Event):
    """The replica's job ended without being asked to; a ReplicaScheduled follows while restarts remain."""

    TYPE = "tessera.inference.replica_failed.v1"
    deployment_id: Token
    replica: ReplicaIndex
    generation: Generation
    reason: Reason = ""


class ReplicaStopping(Event):
    """The slot is removed (scale down, stop): the inference reactor cancels `job_id`."""

    TYPE = "tessera.inference.replica_stopping.v1"
    deployment_id: Token
    replica: ReplicaIndex
    generation: Generation
    job_id: Token
    reason: Reason = ""


class ReplicaRemoved(Event):
    """A stopping replica's job ended: the slot is gone."""

    TYPE = "tessera.inference.replica_removed.v1"
    deployment_id: Token
    replica: ReplicaIndex
    generation: Generation
