"""Factories for the control plane's tests: events put on EVT as the log stores them, commands read back.

`EventLog(nc).emit(tenant, aggregate, id, *events)` publishes one decision's
events with ids derived from a fresh cause and versions following that
aggregate's head; `commands(nc)` returns what reached CMD, in order.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from bus import subjects
from bus.publish import OutMsg, Publisher
from bus.read import replay
from schemas import Envelope, decode, encode, event_id
from schemas import fleet as f
from schemas import jobs as j

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
PLATFORM = "_platform"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def node(name: str, gpus: int = 8, *, model: str = "H100", pool: str = "default", **more: Any) -> f.NodeSpec:
    return f.NodeSpec(name=name, pool=pool, gpu_model=model, gpu_count=gpus, gpu_memory_gb=80,
                      nvlink_domain=f"{name}-nvl", rack="r1", cpu=64, memory_gb=512, **more)


def spec(gpus: int = 1, **more: Any) -> j.JobSpec:
    return j.JobSpec(**{"name": "train", "image": "ghcr.io/acme/train:1", "gpus": gpus, "gpu_model": "H100",
                        **more})


def placement(node_name: str, *gpus: int, cluster: str = "c1") -> j.Placement:
    return j.Placement(cluster=cluster, node=node_name, gpu_indices=list(gpus))


class EventLog:
    def __init__(self, nc) -> None:
        self.publisher = Publisher(nc)
        self.versions: Counter = Counter()
        self.decisions = 0

    async def emit(self, tenant: str, aggregate: str, aggregate_id: str, *events: Any,
                   time: datetime = T0) -> list[Envelope]:
        self.decisions += 1
        cause = f"given-{aggregate}-{aggregate_id}-{self.decisions}"
        out = []
        for index, event in enumerate(events):
            self.versions[(tenant, aggregate, aggregate_id)] += 1
            env = Envelope(specversion="1.0", id=event_id(cause, index), source="/tests", type=event.TYPE,
                           time=time, tenant=tenant, actor="test", correlationid=cause, causationid=cause,
                           data=event, aggregate=aggregate, aggregateid=aggregate_id,
                           version=self.versions[(tenant, aggregate, aggregate_id)])
            await self.publisher.publish(OutMsg(subjects.subject_for(env), encode(env), env.id))
            out.append(env)
        return out

    async def nodes(self, cluster: str, *specs: f.NodeSpec) -> None:
        await self.emit(PLATFORM, "cluster", cluster, *(f.NodeRegistered(cluster=cluster, node=s) for s in specs))

    async def job(self, tenant: str, job_id: str, *events: Any, time: datetime = T0) -> list[Envelope]:
        return await self.emit(tenant, "job", job_id, *events, time=time)

    async def queued(self, tenant: str, job_id: str, job_spec: j.JobSpec) -> None:
        await self.job(tenant, job_id, j.JobSubmitted(job_id=job_id, spec=job_spec), j.JobAdmitted(job_id=job_id),
                       j.JobQueued(job_id=job_id, spec=job_spec))


async def commands(nc) -> list[Envelope]:
    out: list[Envelope] = []
    await replay(nc, "CMD", lambda m: out.append(decode(m.data)))
    return out


async def eventually(check, timeout: float = 10.0, interval: float = 0.05):
    """Poll `check()` (sync or async) until it returns a truthy value; fail after `timeout` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(interval)
