"""Deployments and API keys through the real control plane on a real nats-server.

Only commands enter (as the gateway and an executor would send them). The
deployment's replicas become jobs submitted by the inference reactor, admitted
and placed by the existing allocator on a registered fleet; scaling down
cancels one; a replica job failing degrades the deployment and a replacement
is placed. An API key created through the plane authenticates through the
IdentityModel (a ProjectionRunner keeps it current) and stops after revoke.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta

import pytest

from bus.commands import send
from bus.connection import Bus, connect
from bus.control import ControlPlane, ControlSettings
from bus.publish import Publisher
from bus.read import follow
from bus.streams import ensure_streams
from domains.inference import replica_job_id
from gateway.tokens import new_api_key
from projections.identity import IdentityModel
from projections.runner import ProjectionRunner
from schemas import Envelope, decode
from schemas import fleet as f
from schemas import identity as i
from schemas import inference as inf
from schemas import jobs as j
from tests.factories.control import PLATFORM, eventually, node
from tests.integration.conftest import stored_msgs


def now() -> datetime:
    return datetime.now(UTC)


class Log:
    """Every event on EVT, as it arrives."""

    def __init__(self, nc) -> None:
        self.nc = nc
        self.events: list[Envelope] = []

    async def run(self) -> None:
        async for stored in follow(self.nc, "EVT", subject="evt.>"):
            self.events.append(decode(stored.data))

    def of(self, kind, **match) -> list:
        return [e.data for e in self.events
                if isinstance(e.data, kind) and all(getattr(e.data, k) == v for k, v in match.items())]

    def status(self, deployment: str) -> str:
        changes = self.of(inf.DeploymentStatusChanged, deployment_id=deployment)
        return changes[-1].status if changes else "requested"


@pytest.fixture
async def bus(nats_server, settings):
    nc = await connect(nats_server.url, settings)
    await ensure_streams(nc.jetstream(), settings)
    yield Bus(nc=nc, js=nc.jetstream(), settings=settings, url=nats_server.url)
    await nc.close()


@pytest.fixture
async def plane(bus):
    plane = ControlPlane(bus, ControlSettings(drain_timeout=2.0))
    await plane.start()
    log = Log(bus.nc)
    task = asyncio.create_task(log.run())
    yield plane, log
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await plane.stop()


async def command(bus: Bus, tenant: str, cmd, actor: str = "user:acme/alice") -> None:
    env = Envelope.for_command(cmd, tenant=tenant, actor=actor, source="/tests/gateway", time=now())
    await send(Publisher(bus.nc, stream="CMD"), env)


async def test_a_deployment_places_scales_and_degrades_through_the_control_plane(bus, plane):
    _, log = plane
    await command(bus, PLATFORM, f.OnboardCluster(spec=f.ClusterSpec(name="c1", nodes=[node("n1"), node("n2")])))
    spec = inf.DeploymentSpec(name="llama", model="meta-llama/Llama-3.1-8B-Instruct", gpus=1, gpu_model="H100",
                              min_replicas=1, max_replicas=3, replicas=2, max_concurrent_requests=8)
    await command(bus, "acme", inf.CreateDeployment(deployment_id="d1", spec=spec))

    # two replica jobs, submitted by the reactor under the deployment's ids, placed by the allocator
    jobs = [replica_job_id("d1", 0, 1), replica_job_id("d1", 1, 2)]
    await eventually(lambda: {p.job_id for p in log.of(j.JobPlaced)} == set(jobs))
    placed = {p.job_id: p.placements[0] for p in log.of(j.JobPlaced)}
    assert all(p.cluster == "c1" and len(p.gpu_indices) == 1 for p in placed.values())
    assert len({(placed[job].node, placed[job].gpu_indices[0]) for job in jobs}) == 2  # distinct GPUs
    submitted = {s.job_id: s.spec for s in log.of(j.JobSubmitted)}
    assert submitted[jobs[0]].labels["deployment"] == "d1" and submitted[jobs[0]].command == ["tessera", "agent"]
    await eventually(lambda: log.status("d1") == "placed")

    # scaling to 1 cancels one replica job; its end removes the slot
    await command(bus, "acme", inf.ScaleDeployment(deployment_id="d1", replicas=1))
    [stopping] = await eventually(lambda: log.of(inf.ReplicaStopping, deployment_id="d1"))
    await eventually(lambda: log.of(j.JobCancelled, job_id=stopping.job_id))
    await eventually(lambda: log.of(inf.ReplicaRemoved, generation=stopping.generation))
    [kept] = [job for job in jobs if job != stopping.job_id]
    assert not log.of(j.JobCancelled, job_id=kept) and log.status("d1") == "placed"

    # the remaining replica's job fails: degraded, and a replacement job is submitted and placed
    await command(bus, "acme", j.ReportJobRunning(job_id=kept), actor="executor")
    await command(bus, "acme", j.ReportJobExited(job_id=kept, exit_code=3, reason="engine crashed"), actor="executor")
    await eventually(lambda: log.status("d1") == "degraded")
    [failed] = log.of(inf.ReplicaFailed, deployment_id="d1")
    assert failed.reason == "job failed (exit code 3, engine crashed)"
    [replacement] = [s for s in log.of(inf.ReplicaScheduled, deployment_id="d1") if s.generation == 3]
    assert replacement.restarts == 1 and replacement.replica == failed.replica
    await eventually(lambda: log.of(j.JobPlaced, job_id=replacement.job_id))

    # its agent reports ready: serving again
    await command(bus, "acme", inf.ReportReplicaReady(deployment_id="d1", replica=replacement.replica,
                                                      generation=3, endpoint="10.0.0.7:8000"), actor="agent")
    await eventually(lambda: log.status("d1") == "serving")
    assert await stored_msgs(bus.nc, "DLQ") == []  # no command was refused on the way


async def test_an_api_key_authenticates_until_it_is_revoked(bus, plane):
    model = IdentityModel()
    stop = asyncio.Event()
    following = asyncio.create_task(ProjectionRunner(bus.nc, model, flush_interval=0.02).run(stop))
    try:
        key, key_id, key_hash = new_api_key()
        await command(bus, "acme", i.CreateApiKey(key_id=key_id, name="prod", key_hash=key_hash,
                                                  allowed_models=["llama"], expires_at=now() + timedelta(days=1),
                                                  rpm=60, budget="10"))
        principal = await eventually(lambda: model.authenticate_key(key, now()))
        assert (principal.tenant, principal.rpm, principal.allows("llama")) == ("acme", 60, True)
        assert model.api_key("acme", key_id).status(now()) == "active"

        await command(bus, "acme", i.ChangeApiKeyBudget(key_id=key_id, budget="0"))
        await eventually(lambda: model.authenticate_key(key, now()).budget == 0)
        await command(bus, "acme", i.RevokeApiKey(key_id=key_id))
        await eventually(lambda: model.authenticate_key(key, now()) is None)
        assert model.api_key("acme", key_id).revoked
    finally:
        stop.set()
        await following
