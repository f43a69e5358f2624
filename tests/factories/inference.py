"""Factories for the inference tests: specs, commands, and given/when/then over a deployment's history."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from domains.inference import DeploymentState, decide, fold, replica_job, replica_job_id
from schemas import inference as inf

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
DEP = "llama"


def dspec(**more: Any) -> inf.DeploymentSpec:
    base = {"name": "llama", "model": "meta-llama/Llama-3.1-8B-Instruct", "engine": "vllm", "gpus": 1,
            "gpu_model": "H100", "min_replicas": 1, "max_replicas": 4, "replicas": 2,
            "max_concurrent_requests": 8}
    return inf.DeploymentSpec(**{**base, **more})


def create(dep: str = DEP, **more: Any) -> inf.CreateDeployment:
    return inf.CreateDeployment(deployment_id=dep, spec=dspec(**more))


def requested(dep: str = DEP, **more: Any) -> list:
    """The events of a successful CreateDeployment."""
    return decide(DeploymentState(), create(dep, **more), now=T0)


def scheduled(spec: inf.DeploymentSpec, replica: int, generation: int, dep: str = DEP,
              restarts: int = 0) -> inf.ReplicaScheduled:
    return inf.ReplicaScheduled(deployment_id=dep, replica=replica, generation=generation, restarts=restarts,
                                job_id=replica_job_id(dep, replica, generation),
                                job=replica_job(dep, spec, replica, generation))


def job(replica: int, generation: int, state: str, dep: str = DEP, **more: Any) -> inf.RecordReplicaState:
    return inf.RecordReplicaState(deployment_id=dep, replica=replica, generation=generation, state=state, **more)


def ready(replica: int, generation: int, dep: str = DEP, endpoint: str = "") -> inf.ReportReplicaReady:
    return inf.ReportReplicaReady(deployment_id=dep, replica=replica, generation=generation, endpoint=endpoint)


def lost(replica: int, generation: int, dep: str = DEP) -> inf.ReportReplicaLost:
    return inf.ReportReplicaLost(deployment_id=dep, replica=replica, generation=generation, reason="heartbeat")


def scale(replicas: int, dep: str = DEP, **more: Any) -> inf.ScaleDeployment:
    return inf.ScaleDeployment(deployment_id=dep, replicas=replicas, **more)


class History:
    """A deployment's events so far; `when(command)` decides, appends and returns the new events."""

    def __init__(self, events: list | None = None) -> None:
        self.events = list(events or [])

    @property
    def state(self) -> DeploymentState:
        return fold(self.events)

    def when(self, command, *, now: datetime = T0) -> list:
        new = decide(self.state, command, now=now)
        self.events += new
        return new

    def run(self, *commands) -> list:
        out: list = []
        for command in commands:
            out += self.when(command)
        return out


def types(events: list) -> list[str]:
    return [type(e).__name__ for e in events]


def statuses(events: list) -> list[str]:
    return [e.status for e in events if isinstance(e, inf.DeploymentStatusChanged)]
