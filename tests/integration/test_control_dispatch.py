"""The dispatch reactor on a real nats-server: job events on EVT become orders on EXEC, once."""

from __future__ import annotations

import pytest

from bus.control.dispatch import Dispatch
from bus.control.runner import ControlRunner
from bus.eventstore import JetStreamTrackingRecorder
from bus.eventstore.config import StoreConfig
from bus.read import replay
from schemas import decode
from schemas import jobs as j
from schemas.compute import LaunchJob, StopJob
from tests.factories.control import EventLog, placement, spec


@pytest.fixture
def tracking(nats_server):
    recorder = JetStreamTrackingRecorder.connect(nats_server.url, StoreConfig())
    yield recorder
    recorder.close()


async def orders(nc) -> list[tuple[str, str, object]]:
    out: list = []
    await replay(nc, "EXEC", lambda m: out.append((m.subject, m.msg_id, decode(m.data))))
    return [(subject, msg_id, env.data) for subject, msg_id, env in out]


async def test_placed_and_cancelled_jobs_become_orders_on_their_clusters_subjects_and_a_rerun_adds_none(
        nc, tracking):
    given = EventLog(nc)
    await given.job("acme", "j1", j.JobSubmitted(job_id="j1", spec=spec(2)))
    await given.job("acme", "j1", j.JobPlaced(job_id="j1", placements=[placement("n1", 0, 1, cluster="gpu-a")]))
    await given.job("acme", "j1", j.JobCancelled(job_id="j1", reason="user"))
    await given.job("beta", "j2", j.JobSubmitted(job_id="j2", spec=spec(1)))
    await given.job("beta", "j2", j.JobPlaced(job_id="j2", placements=[placement("n2", 3, cluster="gpu-b")]))

    await ControlRunner(nc, Dispatch(nc), tracking).run(once=True)
    found = await orders(nc)
    assert [(subject, type(o).__name__, o.attempt) for subject, _, o in found] == [
        ("exec.gpu-a.acme.j1", "LaunchJob", 1), ("exec.gpu-a.acme.j1", "StopJob", 1),
        ("exec.gpu-b.beta.j2", "LaunchJob", 1)]
    launch = found[0][2]
    assert isinstance(launch, LaunchJob) and launch.spec == spec(2) and launch.tenant == "acme"
    assert isinstance(found[1][2], StopJob) and "user" in found[1][2].reason

    # a new runner resumes after its stored position: nothing is ordered twice
    again = Dispatch(nc)
    await ControlRunner(nc, again, tracking).run(once=True)
    assert again.published == 0 and len(await orders(nc)) == 3

    # even without a position (lost tracking), re-published orders carry the same ids: JetStream drops them
    fresh = Dispatch(nc)
    runner = ControlRunner(nc, fresh, tracking)
    runner.reactor.name = "dispatch-copy"
    await runner.run(once=True)
    assert fresh.published == 3 and len(await orders(nc)) == 3
