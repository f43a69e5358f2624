"""Event histories for projection tests: envelopes as the log stores them, with stream sequences.

`History` numbers events 1, 2, 3... like a fresh EVT stream, wraps each event
in a real Envelope (the right tenant, aggregate and version) and stamps it with
a time: `at` seconds after T0, or the history's clock (`h.clock`, advanced by
`h.tick(seconds)`). `fleet(...)` events go to the `_platform` tenant, `job(...)`
events to the job's tenant.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import Any

from bus.publish import OutMsg
from bus.subjects import subject_for
from schemas import PLATFORM_TENANT, Envelope, encode, event_id
from schemas import fleet as f
from schemas import jobs as j
from schemas.values import WaitReason

T0 = datetime(2025, 1, 1, tzinfo=timezone.utc)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


class History:
    def __init__(self) -> None:
        self.events: list[tuple[Envelope, int]] = []
        self.clock = 0.0
        self._versions: Counter[tuple[str, str]] = Counter()

    def tick(self, seconds: float) -> History:
        self.clock += seconds
        return self

    def add(self, event: f.Event, *, tenant: str, aggregate: str, aggregate_id: str,
            at_s: float | None = None) -> tuple[Envelope, int]:
        self._versions[(aggregate, aggregate_id)] += 1
        seq = len(self.events) + 1
        cause = f"cmd-{seq}"
        env = Envelope(
            specversion="1.0", id=event_id(cause, 0), source="/tessera/testing", type=event.TYPE,
            time=at(self.clock if at_s is None else at_s), tenant=tenant, actor="test", correlationid=cause,
            causationid=cause, data=event, aggregate=aggregate, aggregateid=aggregate_id,
            version=self._versions[(aggregate, aggregate_id)],
        )
        self.events.append((env, seq))
        return env, seq

    def fleet(self, event: f.Event, at_s: float | None = None) -> tuple[Envelope, int]:
        if isinstance(event, f.ClusterOnboarded):
            return self.add(event, tenant=PLATFORM_TENANT, aggregate="cluster", aggregate_id=event.name, at_s=at_s)
        name = event.node.name if isinstance(event, f.NodeRegistered) else event.node  # type: ignore[attr-defined]
        return self.add(event, tenant=PLATFORM_TENANT, aggregate="node",
                        aggregate_id=f.node_id(event.cluster, name), at_s=at_s)  # type: ignore[attr-defined]

    def job(self, event: j.Event, tenant: str = "acme", at_s: float | None = None) -> tuple[Envelope, int]:
        return self.add(event, tenant=tenant, aggregate="job", aggregate_id=event.job_id,  # type: ignore[attr-defined]
                        at_s=at_s)


def out_msgs(events: list[tuple[Envelope, int]]) -> list[OutMsg]:
    """The envelopes as publishable messages (subject, encoded bytes, Nats-Msg-Id)."""
    return [OutMsg(subject=subject_for(env), data=encode(env), msg_id=env.id) for env, _ in events]


# --- fleet events -----------------------------------------------------------

def cluster_onboarded(name: str = "c1", pools: tuple[str, ...] = ("default",), **kw: Any) -> f.ClusterOnboarded:
    return f.ClusterOnboarded(name=name, region=kw.pop("region", "eu"), backend=kw.pop("backend", "simulator"),
                              pools=[f.PoolSpec(name=p) for p in pools], **kw)


def node_registered(node: str = "n1", cluster: str = "c1", *, gpus: int = 8, model: str | None = "H100",
                    pool: str = "default", labels: dict[str, str] | None = None, rack: str | None = None
                    ) -> f.NodeRegistered:
    spec = f.NodeSpec(name=node, pool=pool, gpu_model=model if gpus else None, gpu_count=gpus,
                      gpu_memory_gb=80 if gpus else 0, labels=labels or {}, rack=rack)
    return f.NodeRegistered(cluster=cluster, node=spec)


def node_lost(node: str = "n1", cluster: str = "c1") -> f.NodeLost:
    return f.NodeLost(cluster=cluster, node=node, reason=WaitReason(code="heartbeat_timeout"))


# --- job events -------------------------------------------------------------

def job_spec(**overrides: Any) -> j.JobSpec:
    return j.JobSpec(**{"name": "train", "image": "ghcr.io/acme/train:1", "gpus": 1, **overrides})


def job_submitted(job: str, **spec: Any) -> j.JobSubmitted:
    return j.JobSubmitted(job_id=job, spec=job_spec(**spec))


def job_queued(job: str, **spec: Any) -> j.JobQueued:
    return j.JobQueued(job_id=job, spec=job_spec(**spec))


def slot(node: str = "n1", gpus: tuple[int, ...] = (0,), cluster: str = "c1") -> j.Placement:
    return j.Placement(cluster=cluster, node=node, gpu_indices=list(gpus))


def job_placed(job: str, *placements: j.Placement, model: str | None = "H100") -> j.JobPlaced:
    return j.JobPlaced(job_id=job, placements=list(placements) or [slot()], gpu_model=model)


def waiting(code: str = "insufficient_gpus", **details: Any) -> WaitReason:
    return WaitReason(code=code, details=details)


def admitted_and_queued(h: History, job: str, tenant: str = "acme", **spec: Any) -> None:
    """Submitted, admitted and queued: ready for placement."""
    h.job(job_submitted(job, **spec), tenant)
    h.job(j.JobAdmitted(job_id=job), tenant)
    h.job(job_queued(job, **spec), tenant)


def realistic_history(seed: int = 7, *, jobs: int = 120, nodes: int = 6, gpus: int = 8) -> History:
    """A fleet and a job history with every lifecycle outcome, on GPUs that are never given twice.

    A toy scheduler places queued jobs first-fit on free GPU indices; each placed
    job then succeeds, fails, is cancelled, preempted, or requeued and placed
    again. Some jobs are rejected or wait as unschedulable. Time advances 1-600 s
    per event, so intervals cross hour boundaries.
    """
    import random

    rng = random.Random(seed)
    h = History()
    h.fleet(cluster_onboarded("c1", pools=("train", "infer")))
    free = {f"n{i}": list(range(gpus)) for i in range(nodes)}
    for name in free:
        h.fleet(node_registered(name, gpus=gpus, pool="train" if name < "n4" else "infer", rack=f"r{int(name[1:]) % 2}"))
    running: dict[str, tuple[str, str, list[int]]] = {}  # job -> (tenant, node, indices)
    tenants = ("acme", "globex", "initech")

    def place(job: str, tenant: str, want: int) -> bool:
        node = next((n for n, idx in free.items() if len(idx) >= want), None)
        if node is None:
            h.job(j.JobUnschedulable(job_id=job, reason=waiting(model="H100", want=want)), tenant)
            return False
        taken, free[node] = free[node][:want], free[node][want:]
        h.tick(rng.uniform(1, 600)).job(job_placed(job, slot(node, tuple(taken))), tenant)
        h.job(j.JobStarting(job_id=job), tenant)
        h.job(j.JobRunning(job_id=job), tenant)
        running[job] = (tenant, node, taken)
        return True

    def end(job: str, event: j.Event) -> None:
        tenant, node, taken = running.pop(job)
        free[node] = sorted(free[node] + taken)
        h.tick(rng.uniform(1, 600)).job(event, tenant)

    for i in range(jobs):
        job, tenant, want = f"job{i:04}", rng.choice(tenants), rng.choice((1, 1, 2, 4, 8))
        h.tick(rng.uniform(1, 60)).job(job_submitted(job, gpus=want, gpu_model="H100", labels={"team": tenant[:2]}),
                                         tenant)
        if rng.random() < 0.05:
            h.job(j.JobRejected(job_id=job, reason=waiting("quota_exceeded")), tenant)
            continue
        h.job(j.JobAdmitted(job_id=job), tenant)
        h.job(job_queued(job, gpus=want, gpu_model="H100"), tenant)
        if rng.random() < 0.3 and running:  # finish something first, as a busy fleet would
            done = rng.choice(sorted(running))
            end(done, rng.choice([j.JobSucceeded(job_id=done), j.JobFailed(job_id=done, exit_code=1),
                                  j.JobCancelled(job_id=done)]))
        if not place(job, tenant, want):
            continue
        if rng.random() < 0.15:
            end(job, j.JobRequeued(job_id=job, reason=waiting("node_lost"), attempt=1))
            if place(job, tenant, want) and rng.random() < 0.5:
                end(job, j.JobPreempted(job_id=job, by_job="vip", reason=waiting("preempted")))
    return h
