"""The autoscaler on a real control plane: agent load written to the real discovery bucket -> ScaleDeployment.

Only a CreateDeployment enters by hand; the load is what agents would write
(AgentEntry in `tessera_agents`). The plane's autoscaler scales up to the
bound (never past max_replicas), then, once the load is gone, down one
replica per scale-down cooldown to min_replicas and no further. Its command
ids are fixed per deployment and window, so a repeated tick sends nothing new.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from datetime import UTC, datetime, timedelta

import pytest

from bus.commands import send
from bus.connection import Bus, connect
from bus.control import ControlPlane, ControlSettings
from bus.control.autoscaler import Autoscaler, LoadBoard
from bus.discovery import AgentEntry, open_registry
from bus.publish import Publisher
from bus.read import follow
from bus.streams import ensure_streams
from domains.inference import fold, replica_job
from schemas import Envelope, decode
from schemas import inference as inf
from tests.factories.control import eventually

COOLDOWN_S = 1.0
SPEC = inf.DeploymentSpec(
    name="chat", model="smollm", engine="cpu", gpus=0, min_replicas=1, max_replicas=3, replicas=1,
    max_concurrent_requests=4,
    autoscale=inf.AutoscaleSpec(target_utilization=0.5, scale_down_utilization=0.2, scale_up_cooldown_s=0,
                                scale_down_cooldown_s=COOLDOWN_S))


@pytest.fixture
async def bus(nats_server, settings):
    nc = await connect(nats_server.url, settings)
    await ensure_streams(nc.jetstream(), settings)
    yield Bus(nc=nc, js=nc.jetstream(), settings=settings, url=nats_server.url)
    await nc.close()


@pytest.fixture
async def scaled(bus):
    """Every DeploymentScaled as it is stored: (envelope time, event)."""
    seen: list[tuple[datetime, inf.DeploymentScaled]] = []

    async def run() -> None:
        async for stored in follow(bus.nc, "EVT", subject="evt.*.deployment.>"):
            env = decode(stored.data)
            if isinstance(env.data, inf.DeploymentScaled):
                seen.append((env.time, env.data))

    task = asyncio.create_task(run())
    yield seen
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def agent_load(bus: Bus, running: int, waiting: int) -> None:
    registry = await open_registry(bus.js)
    await registry.put(AgentEntry(tenant="acme", deployment="d1", model="smollm", replica=0, generation=1,
                                  url="http://127.0.0.1:1", engine="cpu", running=running, waiting=waiting,
                                  max_concurrent=4))


async def test_load_scales_up_to_max_then_down_one_step_per_cooldown_to_min(bus, scaled):
    plane = ControlPlane(bus, ControlSettings(drain_timeout=2.0, autoscale_interval=0.2))
    await plane.start()
    try:
        await agent_load(bus, running=4, waiting=6)  # demand 10 at 4 x 0.5 per replica: 5 wanted, max is 3
        env = Envelope.for_command(inf.CreateDeployment(deployment_id="d1", spec=SPEC), tenant="acme",
                                   actor="user:acme/ann", source="/tests", time=datetime.now(UTC))
        await send(Publisher(bus.nc, stream="CMD"), env)
        await eventually(lambda: scaled)
        await asyncio.sleep(0.6)  # more ticks with the same load: nothing new
        assert [(e.previous, e.replicas) for _, e in scaled] == [(1, 3)]
        assert scaled[0][1].reason.startswith("autoscale: scale_up")

        await agent_load(bus, running=0, waiting=0)  # idle: down one at a time, one cooldown apart
        await eventually(lambda: len(scaled) == 3, timeout=15)
        await asyncio.sleep(COOLDOWN_S + 0.6)  # at min_replicas: never below
        steps = [(e.previous, e.replicas) for _, e in scaled]
        assert steps == [(1, 3), (3, 2), (2, 1)]
        gaps = [(b - a).total_seconds() for (a, _), (b, _) in itertools.pairwise(scaled)]
        assert all(gap >= COOLDOWN_S for gap in gaps[1:]), gaps  # scale-downs wait their cooldown
    finally:
        await plane.stop()


def test_a_tick_in_the_same_window_derives_the_same_command_id():
    scaler = Autoscaler(nc=None, interval=5)
    requested = inf.DeploymentRequested(deployment_id="d1", spec=SPEC, replicas=1)
    scheduled = inf.ReplicaScheduled(deployment_id="d1", replica=0, generation=1, job_id="j", restarts=0,
                                     job=replica_job("d1", SPEC, 0, 1))
    t0 = datetime(2030, 1, 1, tzinfo=UTC)
    cause = Envelope.for_command(inf.CreateDeployment(deployment_id="d1", spec=SPEC), tenant="acme", actor="t",
                                 source="/t", time=t0)
    for n, event in enumerate((requested, scheduled)):
        scaler.apply(Envelope.for_event(event, cause=cause, index=n, aggregate="deployment", aggregateid="d1",
                                        version=n + 1, time=t0))
    assert scaler.deployments[("acme", "d1")] == fold([requested, scheduled])
    board = LoadBoard()
    board.observe("acme.d1.0.1", AgentEntry(tenant="acme", deployment="d1", model="m", replica=0, generation=1,
                                            url="u", engine="cpu", running=8, waiting=0, updated=t0))
    first = scaler.due(t0 + timedelta(seconds=1), board)
    again = scaler.due(t0 + timedelta(seconds=2), board)
    later = scaler.due(t0 + timedelta(seconds=6), board)  # the next window
    assert [c.replicas for _, _, c in first] == [3] and first == again
    assert later[0][1] != first[0][1]
    board.observe("acme.d1.0.1", None)  # the agent went away: no evidence, hold
    assert scaler.due(t0 + timedelta(seconds=1), board) == []
    stale = AgentEntry(tenant="acme", deployment="d1", model="m", replica=0, generation=1, url="u", engine="cpu",
                       running=8, updated=t0 - timedelta(seconds=60))
    board.observe("acme.d1.0.1", stale)  # silent past the TTL: not counted
    assert scaler.due(t0 + timedelta(seconds=1), board) == []
