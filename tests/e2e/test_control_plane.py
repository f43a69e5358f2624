"""The control plane end to end on a real nats-server: commands in, a fleet of jobs and a workflow run, usage out.

Only commands enter (as a gateway and an executor would send them); every
admission, placement, requeue, task submission and usage record is the control
plane's. A tiny test-side executor follows JobPlaced events and reports the
job starting, running and (unless the test holds it) exiting 0.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from bus.commands import send
from bus.connection import Bus, connect
from bus.control import ControlPlane, ControlSettings
from bus.publish import Publisher
from bus.read import follow, replay
from bus.streams import ensure_streams
from schemas import Envelope, decode, derived_id
from schemas import fleet as f
from schemas import jobs as j
from schemas import workflows as w
from schemas.policy import GpuLimit, QuotaLimits, SetQuota
from tests.factories.control import PLATFORM, eventually, node, spec


def now() -> datetime:
    return datetime.now(UTC)


RELEASES = (j.JobRequeued, j.JobSucceeded, j.JobFailed, j.JobCancelled, j.JobPreempted)


class Executor:
    """Follows EVT: keeps every event, and runs placed jobs (exit 0 soon, unless held)."""

    def __init__(self, nc) -> None:
        self.nc = nc
        self.publisher = Publisher(nc, stream="CMD")
        self.events: list[Envelope] = []
        self.hold: set[str] = set()
        self.exits = 0

    async def run(self) -> None:
        async for stored in follow(self.nc, "EVT", subject="evt.>"):
            env = decode(stored.data)
            self.events.append(env)
            if isinstance(env.data, j.JobPlaced):
                await self.command(env.tenant, j.ReportJobStarting(job_id=env.data.job_id), env.id, "starting")
                await self.command(env.tenant, j.ReportJobRunning(job_id=env.data.job_id), env.id, "running")
                if env.data.job_id not in self.hold:
                    asyncio.get_running_loop().call_later(0.05, self._exit_soon, env)

    def _exit_soon(self, placed: Envelope) -> None:
        asyncio.ensure_future(self.command(placed.tenant, j.ReportJobExited(job_id=placed.data.job_id, exit_code=0),
                                           placed.id, "exited"))

    async def finish(self, tenant: str, job: str) -> None:
        placed = [e for e in self.of(job) if isinstance(e.data, j.JobPlaced)][-1]
        await self.command(tenant, j.ReportJobExited(job_id=job, exit_code=0), placed.id, "exited")

    async def command(self, tenant: str, cmd, cause: str, step: str) -> None:
        await send(self.publisher, Envelope.for_command(cmd, tenant=tenant, actor="executor", source="/tests/executor",
                                                        time=now(), id=derived_id(cause, step)))

    def of(self, job: str) -> list[Envelope]:
        return [e for e in self.events if getattr(e.data, "job_id", None) == job and e.aggregate == "job"]

    def last(self, job: str, kind) -> Envelope | None:
        return next((e for e in reversed(self.of(job)) if isinstance(e.data, kind)), None)

    def gpus(self, job: str) -> set[tuple[str, int]]:
        placed = self.last(job, j.JobPlaced)
        return {(p.node, g) for p in placed.data.placements for g in p.gpu_indices}

    def gpu_seconds(self) -> dict[str, Decimal]:
        """What metering must bill: per job, GPUs x (release - placement), from the log's own times."""
        out: dict[str, Decimal] = defaultdict(Decimal)
        held: dict[str, Envelope] = {}
        for e in self.events:
            if isinstance(e.data, j.JobPlaced):
                held[e.data.job_id] = e
            elif isinstance(e.data, RELEASES) and e.data.job_id in held:
                placed = held.pop(e.data.job_id)
                gpus = sum(len(p.gpu_indices) for p in placed.data.placements)
                micros = (e.time - placed.time) // timedelta(microseconds=1)
                out[e.data.job_id] += Decimal(micros).scaleb(-6) * gpus
        return dict(out)


@pytest.fixture
async def bus(nats_server, settings):
    nc = await connect(nats_server.url, settings)
    await ensure_streams(nc.jetstream(), settings)
    yield Bus(nc=nc, js=nc.jetstream(), settings=settings, url=nats_server.url)
    await nc.close()


async def last_seq(bus: Bus, stream: str) -> int:
    return (await bus.js.stream_info(stream)).state.last_seq


async def usage(bus: Bus) -> list:
    out: list = []
    await replay(bus.nc, "USAGE", lambda m: out.append(decode(m.data).data))
    return out


async def test_jobs_and_a_workflow_run_through_the_control_plane_and_a_replay_sends_nothing(bus):
    plane = ControlPlane(bus, ControlSettings(sweep_interval=0.5))
    await plane.start()
    executor = Executor(bus.nc)
    following = asyncio.create_task(executor.run())
    publisher = Publisher(bus.nc, stream="CMD")
    sent = 0

    async def command(tenant: str, cmd) -> None:
        nonlocal sent
        sent += 1
        await send(publisher, Envelope.for_command(cmd, tenant=tenant, actor="alice", source="/tests",
                                                   time=now(),
                                                   id=f"user-{sent}"))

    def happened(job: str, kind):
        return lambda: executor.last(job, kind)

    async def submit(tenant: str, job: str, gpus: int, **more) -> None:
        await command(tenant, j.SubmitJob(job_id=job, spec=spec(gpus, **more)))

    try:
        # a cluster of 2 nodes x 8 H100, and acme may hold 8 H100 at a time
        await command(PLATFORM, f.OnboardCluster(spec=f.ClusterSpec(name="c1", nodes=[node("n1"), node("n2")])))
        await command("acme", SetQuota(tenant="acme", limits=QuotaLimits(
            concurrent_gpus=[GpuLimit(gpu_model="H100", max_gpus=8)])))
        await eventually(lambda: sum(isinstance(e.data, f.NodeRegistered) and e.aggregate == "node"
                                     for e in executor.events) == 2)
        await eventually(lambda: any(e.type.endswith("quota_set.v1") for e in executor.events))

        # admitted and placed on distinct GPUs
        executor.hold |= {"j1", "j2", "r1"}
        await submit("acme", "j1", 4)
        await submit("acme", "j2", 2)
        await submit("beta", "r1", 4, on_node_lost="reschedule")
        for job in ("j1", "j2", "r1"):
            await eventually(happened(job, j.JobRunning))
        assert not (executor.gpus("j1") & executor.gpus("j2")) and not (executor.gpus("j2") & executor.gpus("r1"))
        assert not (executor.gpus("j1") & executor.gpus("r1"))

        # too big for any node now: waits with the reason; over acme's quota: held, or rejected if it never fits
        await submit("beta", "big", 8)
        waiting = await eventually(happened("big", j.JobUnschedulable))
        assert waiting.data.reason.code == "insufficient_gpus" and waiting.data.reason.details["want"] == 8
        await submit("acme", "j3", 4)
        held = await eventually(happened("j3", j.JobUnschedulable))
        assert executor.last("j3", j.JobAdmitted) is not None
        assert (held.data.reason.code, held.data.reason.details["in_use"]) == ("quota_exceeded", 6)
        await submit("acme", "j4", 16)
        rejected = await eventually(happened("j4", j.JobRejected))
        assert rejected.data.reason.code == "job_exceeds_quota"

        # releasing GPUs lets the held and the waiting jobs run
        await executor.finish("acme", "j1")
        await eventually(happened("j3", j.JobSucceeded))
        await executor.finish("acme", "j2")
        for job in ("j1", "j2", "j3", "big"):
            await eventually(happened(job, j.JobSucceeded))

        # a lost node: its reschedulable job is requeued and placed on the other node
        lost = executor.last("r1", j.JobPlaced).data.placements[0].node
        await command(PLATFORM, f.MarkNodeLost(cluster="c1", node=lost))
        await eventually(happened("r1", j.JobRequeued))
        await eventually(lambda: len([e for e in executor.of("r1") if isinstance(e.data, j.JobPlaced)]) == 2)
        assert {n for n, _ in executor.gpus("r1")} == {({"n1", "n2"} - {lost}).pop()}
        await eventually(happened("r1", j.JobRunning))
        await executor.finish("beta", "r1")
        await eventually(happened("r1", j.JobSucceeded))

        # a workflow a -> b, a -> c runs in order, on the healthy node
        tasks = [w.TaskSpec(name="a", image="img:1", gpus=1, gpu_model="H100"),
                 w.TaskSpec(name="b", image="img:1", gpus=1, gpu_model="H100", depends_on=["a"]),
                 w.TaskSpec(name="c", image="img:1", gpus=1, gpu_model="H100", depends_on=["a"])]
        await command("beta", w.SubmitWorkflow(workflow_id="wf1", spec=w.WorkflowSpec(name="fan", tasks=tasks)))
        await eventually(lambda: any(isinstance(e.data, w.WorkflowSucceeded) for e in executor.events))
        flow = [(type(e.data).__name__, e.data.task) for e in executor.events
                if isinstance(e.data, (w.TaskReady, w.TaskSucceeded))]
        assert flow[:2] == [("TaskReady", "a"), ("TaskSucceeded", "a")]
        assert sorted(flow[2:]) == [("TaskReady", "b"), ("TaskReady", "c"), ("TaskSucceeded", "b"),
                                    ("TaskSucceeded", "c")]
        task_jobs = [e.data.job_id for e in executor.events if isinstance(e.data, w.TaskReady)]
        assert all(n != lost for job in task_jobs for n, _ in executor.gpus(job))

        # every GPU-second held is on USAGE, once
        expected = executor.gpu_seconds()
        assert set(expected) == {"j1", "j2", "j3", "big", "r1", *task_jobs}

        async def billed():
            records = await usage(bus)
            per_job: dict[str, Decimal] = defaultdict(Decimal)
            for r in records:
                per_job[r.job_id] += r.quantity
            return records if dict(per_job) == expected else None

        records = await eventually(billed)
        assert len({r.record_id for r in records}) == len(records)
        dead: list = []
        await replay(bus.nc, "DLQ", lambda m: dead.append(decode(m.data).data.error))
        assert dead == []

        # a new control plane on the same log rebuilds its views and sends nothing new
        await plane.stop()
        commands_before, usage_before = await last_seq(bus, "CMD"), await last_seq(bus, "USAGE")
        plane = ControlPlane(bus, ControlSettings(sweep_interval=0.5))
        await plane.start()
        await plane.caught_up()
        await asyncio.sleep(1.0)  # a sweep or two
        assert (await last_seq(bus, "CMD"), await last_seq(bus, "USAGE")) == (commands_before, usage_before)
        assert sum(r.sent for r in plane.runners.values()) == 0
    finally:
        following.cancel()
        await asyncio.gather(following, return_exceptions=True)
        await plane.stop()
