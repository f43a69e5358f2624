"""The heartbeat checker in a running control plane on a real nats-server: silent nodes are marked lost.

A test-side "node agent" sends RecordHeartbeat commands as a backend would;
the control plane (with a 1.5 s heartbeat timeout, swept every 0.2 s) must mark
the node that stops beating lost, exactly once, requeue or fail its jobs per
their `on_node_lost`, leave the beating node alone, and take the lost node
back when it beats again.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime

import pytest

from bus.commands import send
from bus.connection import Bus, connect
from bus.control import ControlPlane, ControlSettings
from bus.publish import Publisher
from bus.read import follow
from bus.streams import ensure_streams
from schemas import Envelope, decode
from schemas import fleet as f
from schemas import jobs as j
from tests.factories.control import PLATFORM, commands, eventually, node, spec

TIMEOUT = 1.5


@pytest.fixture
async def bus(nats_server, settings):
    nc = await connect(nats_server.url, settings)
    await ensure_streams(nc.jetstream(), settings)
    yield Bus(nc=nc, js=nc.jetstream(), settings=settings, url=nats_server.url)
    await nc.close()


class Fleet:
    """Sends commands, follows EVT, and beats for the nodes in `beating` every 0.2 s."""

    def __init__(self, nc) -> None:
        self.nc = nc
        self.publisher = Publisher(nc, stream="CMD")
        self.events: list[Envelope] = []
        self.beating: set[str] = set()
        self.last_beat: dict[str, datetime] = {}
        self.sent = 0

    async def command(self, tenant: str, cmd) -> None:
        self.sent += 1
        await send(self.publisher, Envelope.for_command(cmd, tenant=tenant, actor="test", source="/tests",
                                                        time=datetime.now(UTC), id=f"test-{self.sent}"))

    async def follow(self) -> None:
        async for stored in follow(self.nc, "EVT", subject="evt.>"):
            self.events.append(decode(stored.data))

    async def beat(self) -> None:
        while True:
            for name in sorted(self.beating):
                self.last_beat[name] = datetime.now(UTC)
                await self.command(PLATFORM, f.RecordHeartbeat(cluster="c1", node=name, at=self.last_beat[name]))
            await asyncio.sleep(0.2)

    def of(self, kind, **fields) -> list[Envelope]:
        return [e for e in self.events if isinstance(e.data, kind)
                and all(getattr(e.data, k) == v for k, v in fields.items())]


async def test_a_node_that_stops_heartbeating_is_marked_lost_once_and_its_jobs_follow_their_policy(bus):
    plane = ControlPlane(bus, ControlSettings(heartbeat_timeout=TIMEOUT, health_interval=0.2, restart_delay=0.2))
    await plane.start()
    fleet = Fleet(bus.nc)
    tasks = [asyncio.create_task(fleet.follow()), asyncio.create_task(fleet.beat())]
    try:
        await fleet.command(PLATFORM, f.OnboardCluster(spec=f.ClusterSpec(
            name="c1", pools=[f.PoolSpec(name="main"), f.PoolSpec(name="edge")],
            nodes=[node("steady", pool="main"), node("flaky", pool="edge")])))
        await eventually(lambda: len([e for e in fleet.of(f.NodeRegistered) if e.aggregate == "node"]) == 2)
        fleet.beating |= {"steady", "flaky"}
        await eventually(lambda: len(fleet.of(f.NodeHealthy)) == 2)
        await fleet.command("acme", j.SubmitJob(job_id="moves", spec=spec(2, pool="edge", on_node_lost="reschedule")))
        await fleet.command("acme", j.SubmitJob(job_id="fails", spec=spec(2, pool="edge", on_node_lost="fail")))
        await fleet.command("acme", j.SubmitJob(job_id="stays", spec=spec(2, pool="main")))
        for job in ("moves", "fails", "stays"):
            await eventually(lambda job=job: fleet.of(j.JobPlaced, job_id=job))

        fleet.beating.discard("flaky")
        [lost] = await eventually(lambda: fleet.of(f.NodeLost), timeout=10)
        waited = (lost.time - fleet.last_beat["flaky"]).total_seconds()  # decided at: the plane's clock
        assert (lost.tenant, lost.data.node, lost.data.reason.code) == (PLATFORM, "flaky", "node_lost")
        assert TIMEOUT < waited < TIMEOUT + 5  # not before the timeout, and soon after it
        requeued = await eventually(lambda: fleet.of(j.JobRequeued, job_id="moves"))
        failed = await eventually(lambda: fleet.of(j.JobFailed, job_id="fails"))
        assert requeued[0].data.reason.code == "node_lost" and failed

        await asyncio.sleep(TIMEOUT + 0.5)  # more sweeps, well past the timeout for anything silent
        marks = [c for c in await commands(bus.nc) if isinstance(c.data, f.MarkNodeLost)]
        assert [(c.data.node, c.actor) for c in marks] == [("flaky", "health")]
        assert [e.data.node for e in fleet.of(f.NodeLost)] == ["flaky"]  # the beating node stays healthy
        assert not fleet.of(j.JobRequeued, job_id="stays") and not fleet.of(j.JobFailed, job_id="stays")

        fleet.beating.add("flaky")  # it comes back: healthy again, and watched again
        await eventually(lambda: len(fleet.of(f.NodeHealthy, node="flaky")) == 2)
        await eventually(lambda: len(fleet.of(j.JobPlaced, job_id="moves")) == 2)  # placed again on it
        fleet.beating.discard("flaky")
        await eventually(lambda: len(fleet.of(f.NodeLost)) == 2, timeout=10)
        marks = [c for c in await commands(bus.nc) if isinstance(c.data, f.MarkNodeLost)]
        assert len(marks) == 2 and marks[0].id != marks[1].id
    finally:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await plane.stop()
