"""The simulator on a real nats-server with the real control plane: simulated fleets run real job lifecycles.

Fleets are onboarded only through commands; jobs are submitted as a gateway
would; every admission, placement and stop is the control plane's, every
report the simulator's. GPU bookings are checked twice: by the simulator as it
books them, and from the log (no GPU held by two jobs at any point of EVT).
"""

from __future__ import annotations

from collections import Counter

import pytest

from adapters.simulator import Simulator, parse_fleet
from bus.commands import send
from bus.connection import Bus, connect
from bus.control import ControlPlane, ControlSettings
from bus.publish import Publisher
from bus.read import load_aggregate, replay
from bus.streams import ensure_streams
from schemas import Envelope, decode
from schemas import jobs as j
from tests.factories.control import eventually

RELEASES = (j.JobRequeued, j.JobSucceeded, j.JobFailed, j.JobCancelled, j.JobPreempted)
ENDS = (j.JobSucceeded, j.JobFailed, j.JobCancelled, j.JobPreempted, j.JobRejected)


@pytest.fixture
async def bus(nats_server, settings):
    nc = await connect(nats_server.url, settings)
    await ensure_streams(nc.jetstream(), settings)
    yield Bus(nc=nc, js=nc.jetstream(), settings=settings, url=nats_server.url)
    await nc.close()


@pytest.fixture
async def plane(bus):
    control = ControlPlane(bus, ControlSettings(track_interval=0.2))
    await control.start()
    yield control
    await control.stop()


class Jobs:
    def __init__(self, bus: Bus) -> None:
        self.bus, self.publisher, self.sent = bus, Publisher(bus.nc, stream="CMD"), 0

    async def submit(self, tenant: str, job: str, **spec) -> None:
        self.sent += 1
        cmd = j.SubmitJob(job_id=job, spec=j.JobSpec(name="sim", image="train:1", **spec))
        await send(self.publisher, Envelope.for_command(cmd, tenant=tenant, actor="alice", source="/tests",
                                                        time=ControlSettings().clock(), id=f"user-{self.sent}"))

    async def outcome(self, tenant: str, job: str):
        events = [decode(m.data).data for m in await load_aggregate(self.bus.nc, tenant, "job", job)]
        return next((e for e in events if isinstance(e, ENDS)), None)

    async def all_end(self, tenant: str, jobs: list[str], timeout: float = 30.0) -> dict[str, object]:
        async def done():
            outcomes = {job: await self.outcome(tenant, job) for job in jobs}
            return outcomes if all(outcomes.values()) else None
        return await eventually(done, timeout=timeout)


def double_bookings(events: list[Envelope]) -> list[str]:
    """Walk EVT in order: a GPU placed while another job holds it is a double booking."""
    held: dict[tuple[str, str, int], str] = {}
    by_job: dict[str, list[tuple[str, str, int]]] = {}
    problems = []
    for env in events:
        event = env.data
        if isinstance(event, j.JobPlaced):
            slots = [(p.cluster, p.node, g) for p in event.placements for g in p.gpu_indices]
            problems += [f"{event.job_id} on {s} held by {held[s]}" for s in slots if s in held]
            held.update({s: event.job_id for s in slots})
            by_job[event.job_id] = slots
        elif isinstance(event, RELEASES):
            for slot in by_job.pop(event.job_id, []):
                held.pop(slot, None)
    return problems


async def job_events(bus: Bus) -> list[Envelope]:
    out: list[Envelope] = []
    await replay(bus.nc, "EVT", lambda m: out.append(decode(m.data)), subject="evt.*.job.>")
    return out


async def test_jobs_on_a_small_simulated_fleet_all_succeed_and_no_gpu_is_double_booked(bus, plane):
    fleet = parse_fleet("{name: simc, nodes: 3, gpus_per_node: 4, gpu_model: H100, racks: 1, "
                        "simulation: {seed: 3, heartbeat_interval_s: 0.5}}")
    sim = Simulator(bus.nc, fleet)
    await sim.start(registered_timeout=20)
    jobs = Jobs(bus)
    try:
        names = [f"j{i}" for i in range(24)]
        for i, name in enumerate(names):
            await jobs.submit("acme", name, gpus=1 + i % 4, gpu_model="H100", duration_s=0.2 + (i % 3) * 0.1)
        outcomes = await jobs.all_end("acme", names)
        assert Counter(type(o).__name__ for o in outcomes.values()) == {"JobSucceeded": 24}
        assert sim.violations == []
        placed = [e for e in await job_events(bus) if isinstance(e.data, j.JobPlaced)]
        assert len(placed) == 24 and {p.cluster for e in placed for p in e.data.placements} == {"simc"}
        assert double_bookings(await job_events(bus)) == []
        # the fleet was busy: some job waited for GPUs another one held
        assert any(isinstance(e.data, j.JobUnschedulable) for e in await job_events(bus))
    finally:
        await sim.close()


async def test_a_failure_probability_fails_some_runs_with_the_configured_exit_code(bus, plane):
    fleet = parse_fleet("{name: flaky, nodes: 2, gpus_per_node: 8, racks: 1, "
                        "simulation: {seed: 11, job_failure_probability: 0.5, failure_exit_code: 7, "
                        "heartbeat_interval_s: null, duration: {distribution: fixed, seconds: 0.1}}}")
    sim = Simulator(bus.nc, fleet)
    await sim.start(registered_timeout=20)
    jobs = Jobs(bus)
    try:
        names = [f"f{i}" for i in range(16)]
        for name in names:
            await jobs.submit("acme", name, gpus=1, gpu_model="H100")
        outcomes = await jobs.all_end("acme", names)
        failed = [o for o in outcomes.values() if isinstance(o, j.JobFailed)]
        succeeded = [o for o in outcomes.values() if isinstance(o, j.JobSucceeded)]
        assert failed and succeeded and len(failed) + len(succeeded) == 16
        assert {o.exit_code for o in failed} == {7}
        assert sim.clusters["flaky"].finished["failed"] == len(failed)
    finally:
        await sim.close()


async def test_a_lost_simulated_node_requeues_its_job_onto_another_node(bus, plane):
    fleet = parse_fleet("{name: lossy, nodes: 2, gpus_per_node: 8, racks: 1, simulation: {heartbeat_interval_s: 0.5}}")
    sim = Simulator(bus.nc, fleet)
    await sim.start(registered_timeout=20)
    jobs = Jobs(bus)
    try:
        await jobs.submit("acme", "r1", gpus=8, gpu_model="H100", duration_s=1.5, on_node_lost="reschedule")

        async def placements():
            return [e.data for e in await job_events(bus) if isinstance(e.data, j.JobPlaced)]
        first = (await eventually(placements))[0].placements[0].node
        await eventually(lambda: sim.clusters["lossy"].runs)
        sim.clusters["lossy"].lose_node(first)
        assert isinstance((await jobs.all_end("acme", ["r1"]))["r1"], j.JobSucceeded)
        nodes = [p.placements[0].node for p in await placements()]
        assert nodes[0] == first and nodes[1:] == [({"n0", "n1"} - {first}).pop()]
        assert sim.clusters["lossy"].finished["stopped"] == 1  # the lost run was stopped, its GPUs freed
        assert sim.violations == []
    finally:
        await sim.close()


@pytest.mark.slow
async def test_a_large_fleet_is_onboarded_in_chunks_that_fit_a_message(bus, plane):
    fleet = parse_fleet("{name: big, nodes: 1200, gpus_per_node: 8, racks: 12, simulation: {heartbeat_interval_s: null}}")
    sim = Simulator(bus.nc, fleet)
    try:
        await sim.start(registered_timeout=120)
        commands: list[Envelope] = []
        await replay(bus.nc, "CMD", lambda m: commands.append((len(m.data), decode(m.data))),
                     subject="cmd._platform.registry.>")
        kinds = Counter(type(env.data).__name__ for _, env in commands)
        assert kinds["OnboardCluster"] == 1 and kinds["OnboardCluster"] + kinds["AddNode"] >= 2
        assert max(size for size, _ in commands) < 1024 * 1024
    finally:
        await sim.close()
