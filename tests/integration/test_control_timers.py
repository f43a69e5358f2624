"""Metering (job events -> USAGE) and the timeout sweeper (-> CMD), on a real nats-server."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bus.control.metering import Meter
from bus.control.runner import ControlRunner
from bus.control.timeouts import Timeouts
from bus.eventstore import JetStreamTrackingRecorder
from bus.eventstore.config import StoreConfig
from bus.read import replay
from schemas import decode
from schemas import jobs as j
from schemas import workflows as w
from tests.factories.control import T0, EventLog, at, commands, node, placement, spec


@pytest.fixture
def tracking(nats_server):
    recorder = JetStreamTrackingRecorder.connect(nats_server.url, StoreConfig())
    yield recorder
    recorder.close()


async def usage(nc):
    out = []
    await replay(nc, "USAGE", lambda m: out.append((m.subject, m.msg_id, decode(m.data).data)))
    return out


async def test_a_finished_job_is_billed_its_gpu_seconds_per_interval_exactly_once(nc, tracking):
    given = EventLog(nc)
    await given.nodes("c1", node("n1"))
    await given.job("acme", "j1", j.JobSubmitted(job_id="j1", spec=spec(2, gpu_model=None)), time=at(0))
    await given.job("acme", "j1", j.JobPlaced(job_id="j1", placements=[placement("n1", 0, 1)]), time=at(30))
    await given.job("acme", "j1", j.JobSucceeded(job_id="j1"), time=at(3600 + 90))  # crosses 13:00

    await ControlRunner(nc, meter := Meter(nc), tracking).run(once=True)
    again = Meter(nc)  # a fresh process: knows what USAGE holds already
    await again.load_published()
    await ControlRunner(nc, again, Forgetful()).run(once=True)  # reacts to every event again

    records = await usage(nc)
    assert {s for s, _, _ in records} == {"usage.acme.gpu"}
    assert [(r.gpu_model, r.gpus, r.quantity) for _, _, r in records] == [
        ("H100", 2, Decimal("7140.000000")), ("H100", 2, Decimal("180.000000"))]
    assert [msg_id for _, msg_id, _ in records] == [r.record_id for _, _, r in records]
    assert len(meter.published) == 2 and len(again.published) == 2


class Forgetful:
    """A tracking recorder that remembers nothing."""

    def max_tracking_id(self, name):
        return None

    def insert_tracking(self, tracking):
        return None


async def test_a_running_job_bills_closed_intervals_as_it_runs(nc, tracking):
    given = EventLog(nc)
    await given.nodes("c1", node("n1"))
    await given.job("acme", "long", j.JobSubmitted(job_id="long", spec=spec(1)), time=at(0))
    await given.job("acme", "long", j.JobPlaced(job_id="long", placements=[placement("n1", 0)]), time=at(0))
    await ControlRunner(nc, meter := Meter(nc, interval_s=600), tracking).run(once=True)

    assert await meter.tick(at(599)) == 0
    assert await meter.tick(at(1300)) == 2
    assert await meter.tick(at(1300)) == 0
    assert [(r.start, r.end, r.quantity) for _, _, r in await usage(nc)] == [
        (at(0), at(600), Decimal("600.000000")), (at(600), at(1200), Decimal("600.000000"))]


async def test_the_sweeper_cancels_overdue_jobs_and_checks_overdue_workflows_once_per_minute(nc, tracking):
    given = EventLog(nc)
    await given.job("acme", "slow", j.JobSubmitted(job_id="slow", spec=spec(1, timeout_s=60)),
                    j.JobRunning(job_id="slow"), time=at(0))
    await given.job("acme", "quick", j.JobSubmitted(job_id="quick", spec=spec(1, timeout_s=60)),
                    j.JobRunning(job_id="quick"), j.JobSucceeded(job_id="quick"), time=at(0))
    await given.job("acme", "untimed", j.JobSubmitted(job_id="untimed", spec=spec(1)), j.JobRunning(job_id="untimed"))
    wf = w.WorkflowSpec(name="wf", timeout_s=120, tasks=[w.TaskSpec(name="a", image="img:1")])
    await given.emit("acme", "workflow", "wf1", w.WorkflowSubmitted(workflow_id="wf1", spec=wf, submitted_at=T0))
    await ControlRunner(nc, sweeper := Timeouts(nc), tracking).run(once=True)

    assert await sweeper.sweep(at(59)) == 0
    assert await sweeper.sweep(at(65)) == 1
    assert await sweeper.sweep(at(125)) == 2  # the same minute's job cancel again, and the workflow
    assert await sweeper.sweep(at(150)) == 2  # same minute: JetStream drops both copies

    assert [(c.tenant, c.data) for c in await commands(nc)] == [
        ("acme", j.CancelJob(job_id="slow", reason="timeout")),
        ("acme", j.CancelJob(job_id="slow", reason="timeout")),
        ("acme", w.CheckWorkflowTimeout(workflow_id="wf1")),
    ]
