"""Each reactor of the control plane on a real nats-server: given events on EVT, then commands on CMD."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from bus.control.admission import Admission
from bus.control.nodes import Nodes
from bus.control.placer import Placer
from bus.control.runner import ControlRunner
from bus.control.workflows import Workflows
from bus.eventstore import JetStreamTrackingRecorder
from bus.eventstore.config import StoreConfig
from schemas import fleet as f
from schemas import jobs as j
from schemas import workflows as w
from schemas.policy import GpuLimit, QuotaLimits, QuotaSet
from tests.factories.control import (
    PLATFORM,
    EventLog,
    commands,
    eventually,
    node,
    placement,
    spec,
)


@pytest.fixture
def tracking(nats_server):
    recorder = JetStreamTrackingRecorder.connect(nats_server.url, StoreConfig())
    yield recorder
    recorder.close()


@pytest.fixture
def given(nc):
    return EventLog(nc)


async def react(nc, tracking, reactor) -> ControlRunner:
    runner = ControlRunner(nc, reactor, tracking)
    await runner.run(once=True)
    return runner


@contextlib.asynccontextmanager
async def following(nc, tracking, reactor):
    runner = ControlRunner(nc, reactor, tracking)
    task = asyncio.create_task(runner.run())
    try:
        yield runner
    finally:
        await runner.stop()
        await asyncio.gather(task, return_exceptions=True)


def sent(cmds, kind):
    return [(c.tenant, c.data) for c in cmds if isinstance(c.data, kind)]


def quota(tenant: str, max_gpus: int) -> QuotaSet:
    return QuotaSet(tenant=tenant, limits=QuotaLimits(concurrent_gpus=[GpuLimit(gpu_model="H100", max_gpus=max_gpus)]))


async def test_admission_admits_within_quota_holds_over_it_and_rejects_what_can_never_fit(nc, tracking, given):
    await given.emit("acme", "quota", "acme", quota("acme", 4))
    await given.nodes("c1", node("n1"))
    await given.job("acme", "j0", j.JobPlaced(job_id="j0", placements=[placement("n1", 0, 1, 2)], gpu_model="H100"))
    await given.job("acme", "fits", j.JobSubmitted(job_id="fits", spec=spec(1)))
    await given.job("acme", "waits", j.JobSubmitted(job_id="waits", spec=spec(2)))
    await given.job("acme", "never", j.JobSubmitted(job_id="never", spec=spec(8)))
    await given.job("beta", "free", j.JobSubmitted(job_id="free", spec=spec(8)))

    await react(nc, tracking, Admission())

    cmds = await commands(nc)
    assert [(t, c.job_id) for t, c in sent(cmds, j.AdmitJob)] == [("acme", "fits"), ("acme", "waits"), ("beta", "free")]
    [(tenant, rejected)] = sent(cmds, j.RejectJob)
    assert (tenant, rejected.job_id, rejected.reason.code) == ("acme", "never", "job_exceeds_quota")


async def test_placer_places_a_burst_in_one_pass_on_distinct_gpus_and_says_why_the_rest_waits(nc, tracking, given):
    await given.nodes("c1", node("n1"))
    for job_id, gpus in (("a", 4), ("b", 4), ("big", 8)):
        await given.queued("acme", job_id, spec(gpus))

    runner = await react(nc, tracking, placer := Placer())

    cmds = await commands(nc)
    placed = {c.job_id: c.placements[0].gpu_indices for _, c in sent(cmds, j.PlaceJob)}
    assert placed == {"a": [0, 1, 2, 3], "b": [4, 5, 6, 7]}
    [(_, waiting)] = sent(cmds, j.MarkUnschedulable)
    assert (waiting.job_id, str(waiting.reason)) == ("big", "insufficient_gpus{model=H100, want=8, max_free=0}")
    assert placer.passes == 1 and runner.sent == 3


async def test_placer_holds_a_job_over_its_tenants_quota_and_never_places_a_job_twice(nc, tracking, given):
    await given.emit("acme", "quota", "acme", quota("acme", 4))
    await given.nodes("c1", node("n1"), node("n2"))
    await given.queued("acme", "first", spec(4))
    await given.queued("acme", "second", spec(4))
    async with following(nc, tracking, placer := Placer()) as runner:
        await eventually(lambda: runner.sent == 2)
        await given.job("acme", "first", j.JobPlaced(job_id="first", placements=[placement("n1", 0, 1, 2, 3)],
                                                     gpu_model="H100"))
        await given.nodes("c1", node("n3"))  # capacity grew: another pass, nothing new to place
        await eventually(lambda: placer.passes == 2)

    cmds = await commands(nc)
    assert [c.job_id for _, c in sent(cmds, j.PlaceJob)] == ["first"]
    [(_, held)] = sent(cmds, j.MarkUnschedulable)
    assert (held.job_id, held.reason.code, held.reason.details["in_use"]) == ("second", "quota_exceeded", 4)


async def test_workflow_reactor_submits_ready_tasks_and_reports_their_jobs_back(nc, tracking, given):
    job = spec(1)
    await given.emit("acme", "workflow", "wf1", w.TaskReady(workflow_id="wf1", task="a", attempt=1, job_id="ja",
                                                            job=job))
    await given.job("acme", "ja", j.JobRunning(job_id="ja"), j.JobSucceeded(job_id="ja"))
    await given.emit("acme", "workflow", "wf1", w.TaskReady(workflow_id="wf1", task="b", attempt=2, job_id="jb",
                                                            job=job))
    await given.job("acme", "jb", j.JobPreempted(job_id="jb", by_job="x", reason=j.WaitReason(code="preempted")))
    await given.job("acme", "unrelated", j.JobSucceeded(job_id="unrelated"))
    await given.emit("acme", "workflow", "wf1", w.WorkflowCancelled(workflow_id="wf1", stop_jobs=["jc", "jd"]))

    await react(nc, tracking, Workflows())

    assert [c.data for c in await commands(nc)] == [
        j.SubmitJob(job_id="ja", spec=job, workflow_id="wf1", task="a"),
        w.RecordTaskStarted(workflow_id="wf1", task="a", attempt=1),
        w.RecordTaskExited(workflow_id="wf1", task="a", attempt=1, exit_code=0),
        j.SubmitJob(job_id="jb", spec=job, workflow_id="wf1", task="b"),
        w.RecordTaskExited(workflow_id="wf1", task="b", attempt=2, exit_code=137),
        j.CancelJob(job_id="jc", reason="workflow cancelled"),
        j.CancelJob(job_id="jd", reason="workflow cancelled"),
    ]


async def test_a_lost_node_reports_its_jobs_and_a_drain_moves_only_reschedulable_ones(nc, tracking, given):
    for job_id, node_name, policy in (("stay", "n1", "fail"), ("move", "n1", "reschedule"), ("other", "n2", "fail")):
        await given.job("acme", job_id, j.JobSubmitted(job_id=job_id, spec=spec(1, on_node_lost=policy)),
                        j.JobPlaced(job_id=job_id, placements=[placement(node_name, 0)]))
    await given.emit(PLATFORM, "node", "c1--n1", f.NodeDrainRequested(cluster="c1", node="n1"))
    await given.emit(PLATFORM, "node", "c1--n2", f.NodeLost(cluster="c1", node="n2",
                                                            reason=j.WaitReason(code="node_lost")))
    await given.job("acme", "late", j.JobSubmitted(job_id="late", spec=spec(1)),
                    j.JobPlaced(job_id="late", placements=[placement("n2", 1)]))

    await react(nc, tracking, Nodes())

    assert [(c.tenant, c.data.job_id, c.data.node) for c in await commands(nc)] == [
        ("acme", "move", "n1"), ("acme", "other", "n2"), ("acme", "late", "n2")]


async def test_a_restarted_reactor_rebuilds_its_view_but_sends_only_for_new_events(nc, tracking, given):
    await given.job("acme", "j1", j.JobSubmitted(job_id="j1", spec=spec(1)))
    await react(nc, tracking, Admission())
    await given.job("acme", "j2", j.JobSubmitted(job_id="j2", spec=spec(1)))

    again = await react(nc, tracking, Admission())

    assert again.sent == 1
    assert [c.data.job_id for c in await commands(nc)] == ["j1", "j2"]
