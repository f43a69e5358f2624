"""Event factories for the allocation domain's given/when/then tests."""

from __future__ import annotations

from datetime import UTC, datetime

from domains.allocation import DEFAULT_TENANT, Fleet, QueuedJob
from schemas.base import Event
from schemas.fleet import (
    NodeCordoned,
    NodeDrainRequested,
    NodeHealthy,
    NodeLost,
    NodeRegistered,
    NodeSpec,
)
from schemas.jobs import (
    JobCancelled,
    JobPlaced,
    JobQueued,
    JobRequeued,
    JobSpec,
    JobSucceeded,
    Placement,
    Topology,
)
from schemas.values import WaitReason

T0 = datetime(2025, 1, 1, tzinfo=UTC)
CLUSTER = "c1"


def node_registered(name: str, gpus: int = 8, model: str | None = "H100", *, memory_gb: int = 80,
                    nvlink: str | None = "auto", rack: str | None = None, pool: str = "default",
                    platform: str | None = None, labels: dict[str, str] | None = None,
                    cpu: float = 0, memory: float = 0, cluster: str = CLUSTER) -> NodeRegistered:
    return NodeRegistered(cluster=cluster, node=NodeSpec(
        name=name, pool=pool, platform=platform, gpu_model=model if gpus else None, gpu_count=gpus,
        gpu_memory_gb=memory_gb, nvlink_domain=f"{name}-nvl" if nvlink == "auto" else nvlink, rack=rack,
        cpu=cpu, memory_gb=memory, labels=labels or {}))


def spec(name: str = "job", gpus: int = 1, *, same_nvlink: bool = True, same_rack: bool = False,
         **fields) -> JobSpec:
    return JobSpec(name=name, image="trainer:1", gpus=gpus,
                   topology=Topology(same_nvlink_domain=same_nvlink, same_rack=same_rack), **fields)


def job_queued(job_id: str, gpus: int = 1, **fields) -> JobQueued:
    return JobQueued(job_id=job_id, spec=spec(job_id, gpus, **fields))


def job_placed(job_id: str, *members: tuple[str, list[int]], model: str | None = "H100",
               cluster: str = CLUSTER) -> JobPlaced:
    return JobPlaced(job_id=job_id, gpu_model=model,
                     placements=[Placement(cluster=cluster, node=n, gpu_indices=ix) for n, ix in members])


def running(job_id: str, node: str, indices: list[int], **fields) -> list[Event]:
    """A job queued with `len(indices)` GPUs and placed on those GPUs of `node`."""
    return [job_queued(job_id, len(indices), **fields), job_placed(job_id, (node, indices))]


def job_succeeded(job_id: str) -> JobSucceeded:
    return JobSucceeded(job_id=job_id)


def job_cancelled(job_id: str) -> JobCancelled:
    return JobCancelled(job_id=job_id)


def job_requeued(job_id: str, attempt: int = 1) -> JobRequeued:
    return JobRequeued(job_id=job_id, reason=WaitReason(code="node_lost"), attempt=attempt)


def node_cordoned(name: str, cluster: str = CLUSTER) -> NodeCordoned:
    return NodeCordoned(cluster=cluster, node=name)


def node_draining(name: str, cluster: str = CLUSTER) -> NodeDrainRequested:
    return NodeDrainRequested(cluster=cluster, node=name)


def node_lost(name: str, cluster: str = CLUSTER) -> NodeLost:
    return NodeLost(cluster=cluster, node=name, reason=WaitReason(code="heartbeat_timeout"))


def node_healthy(name: str, cluster: str = CLUSTER) -> NodeHealthy:
    return NodeHealthy(cluster=cluster, node=name, at=T0)


def as_tenant(tenant: str, *events: Event | list[Event]) -> list[tuple[Event, str]]:
    """Events whose envelopes carry `tenant`."""
    flat = [e for item in events for e in (item if isinstance(item, list) else [item])]
    return [(e, tenant) for e in flat]


def fold(*history: Event | tuple[Event, str] | list) -> Fleet:
    """A fleet rebuilt from events; `(event, tenant)` sets the envelope tenant, lists are flattened."""
    fleet = Fleet()
    for item in history:
        for entry in item if isinstance(item, list) else [item]:
            if isinstance(entry, tuple):
                fleet.apply(entry[0], tenant=entry[1])
            else:
                fleet.apply(entry)
    return fleet


def queued(job_id: str, gpus: int = 1, *, tenant: str = DEFAULT_TENANT, seq: int = 0,
           held: WaitReason | None = None, **fields) -> QueuedJob:
    return QueuedJob(job_id, spec(job_id, gpus, **fields), tenant, seq, held)
