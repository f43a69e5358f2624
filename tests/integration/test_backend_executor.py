"""The executor loop on a real nats-server: orders on EXEC in, reports on CMD out, bad orders dead-lettered.

The backend is a real simulated cluster (no control plane: the test publishes
the orders dispatch would publish).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from adapters.simulator.cluster import SimulatedCluster
from adapters.simulator.dice import Dice
from adapters.simulator.fleet import parse_fleet
from bus import subjects
from bus.publish import OutMsg, Publisher
from bus.read import replay
from schemas import Envelope, decode, encode
from schemas import jobs as j
from schemas.compute import LaunchJob, StopJob
from tests.factories.control import eventually


def cluster(nc) -> SimulatedCluster:
    fleet = parse_fleet("{name: c1, nodes: 1, gpus_per_node: 2, simulation: {heartbeat_interval_s: null}}")
    return SimulatedCluster(nc, fleet.clusters[0], fleet.simulation, Dice(fleet.simulation))


def launch(job: str, node: str = "n0", attempt: int = 1, duration: float = 0.1) -> LaunchJob:
    spec = j.JobSpec(name="x", image="i", gpus=1, gpu_model="H100", duration_s=duration)
    return LaunchJob(tenant="acme", job_id=job, attempt=attempt, spec=spec,
                     placements=[j.Placement(cluster="c1", node=node, gpu_indices=[0])])


async def order(nc, command, msg_id: str) -> None:
    env = Envelope.for_command(command, tenant="acme", actor="test", source="/tests", time=datetime.now(UTC),
                               id=msg_id)
    await Publisher(nc, stream="EXEC").publish(OutMsg(subjects.exec_subject("c1", "acme", command.job_id),
                                                      encode(env), env.id))


async def stream(nc, name: str, subject: str | None = None) -> list[Envelope]:
    out: list[Envelope] = []
    await replay(nc, name, lambda m: out.append(decode(m.data)), subject=subject)
    return out


async def test_bad_orders_are_dead_lettered_with_a_reason_and_the_rest_still_run(nc):
    sim = cluster(nc)
    running = asyncio.create_task(sim.executor.run())
    try:
        await Publisher(nc, stream="EXEC").publish(OutMsg("exec.c1.acme.junk", b"{not json", "junk-1"))
        await order(nc, launch("ghost", node="nowhere"), "o-1")
        await order(nc, launch("ok"), "o-2")
        letters = await eventually(lambda: _letters(nc, 2))
        reasons = sorted(letter.error for letter in letters)
        assert reasons[0].startswith("rejected: job ghost: no such node on c1: ['nowhere']")
        assert reasons[1].startswith("undecodable")
        assert {letter.consumer for letter in letters} == {"exec-c1"}
        await eventually(lambda: sim.finished["succeeded"] == 1)
    finally:
        await sim.executor.stop()
        await asyncio.gather(running, return_exceptions=True)


async def _letters(nc, count: int):
    found = [e.data for e in await stream(nc, "DLQ")]
    return found if len(found) >= count else None


async def test_a_stop_that_overtakes_its_launch_wins_and_a_repeated_launch_runs_once(nc):
    sim = cluster(nc)
    await order(nc, StopJob(tenant="acme", job_id="late", attempt=1, reason="cancelled"), "s-1")
    await order(nc, launch("late"), "l-1")
    await order(nc, launch("twice", duration=0.3), "l-2")
    await order(nc, launch("twice", duration=0.3), "l-2-again")  # a second copy with another id
    running = asyncio.create_task(sim.executor.run())
    try:
        await eventually(lambda: sim.finished["succeeded"] == 1)
        await asyncio.sleep(0.4)
        assert sim.finished["succeeded"] == 1
        reports = [e.data for e in await stream(nc, "CMD")]
        assert [type(r).__name__ for r in reports if r.job_id == "twice"] == [
            "ReportJobStarting", "ReportJobRunning", "ReportJobExited"]
        assert all(r.attempt == 1 for r in reports)
        assert not [r for r in reports if r.job_id == "late"]
        assert sim.violations == [] and sim.booked == {}
    finally:
        await sim.executor.stop()
        await asyncio.gather(running, return_exceptions=True)
