"""The dispatch view: which LaunchJob / StopJob orders each job and workflow event calls for (no I/O)."""

from __future__ import annotations

import itertools

import pytest

from bus.control.dispatch import DispatchView
from schemas import Envelope
from schemas import jobs as j
from schemas import workflows as w
from schemas.compute import LaunchJob, ResolvedInput, StopJob
from tests.factories.jobs import T0, job_submitted, placement, reason

_ids = itertools.count()


def env(event, tenant: str = "acme") -> Envelope:
    cause = Envelope.for_command(j.CancelJob(job_id="x"), tenant=tenant, actor="t", source="/t", time=T0,
                                 id=f"cause-{next(_ids)}")
    is_job = isinstance(event, j.Event) and type(event).__module__ == "schemas.jobs"
    aggregate, agg_id = ("job", event.job_id) if is_job else ("workflow", event.workflow_id)
    return Envelope.for_event(event, cause=cause, index=0, aggregate=aggregate, aggregateid=agg_id, version=1,
                              time=T0)


def run(events, tenant: str = "acme") -> list[list[tuple[str, str, int, str]]]:
    """Per event: its orders as (cluster, kind, attempt, job)."""
    view = DispatchView()
    out = []
    for event in events:
        orders = view.apply(env(event, tenant))
        out.append([(o.cluster, type(o.command).__name__, o.command.attempt, o.job_id) for o in orders])
    return out


def placed(job: str = "j1", *nodes: str, cluster: str = "c1") -> j.JobPlaced:
    return j.JobPlaced(job_id=job, placements=[placement(n, (0,), cluster=cluster) for n in nodes or ("n1",)])


SUBMITTED = job_submitted("j1")


@pytest.mark.parametrize("events, expected", [
    # placed -> launch attempt 1 on its cluster; cancel -> stop that attempt
    ([SUBMITTED, placed(), j.JobCancelled(job_id="j1")],
     [[], [("c1", "LaunchJob", 1, "j1")], [("c1", "StopJob", 1, "j1")]]),
    # a cancel while queued (never launched): nothing to stop
    ([SUBMITTED, j.JobCancelled(job_id="j1")], [[], []]),
    # requeued (node lost) -> stop attempt 1; placed again -> launch attempt 2; its failure stops attempt 2
    ([SUBMITTED, placed(), j.JobRequeued(job_id="j1", reason=reason("node_lost"), attempt=2),
      placed("j1", "n2"), j.JobFailed(job_id="j1", exit_code=1)],
     [[], [("c1", "LaunchJob", 1, "j1")], [("c1", "StopJob", 1, "j1")], [("c1", "LaunchJob", 2, "j1")],
      [("c1", "StopJob", 2, "j1")]]),
    # preempted -> stop
    ([SUBMITTED, placed(), j.JobPreempted(job_id="j1", by_job="j9", reason=reason("preempted"))],
     [[], [("c1", "LaunchJob", 1, "j1")], [("c1", "StopJob", 1, "j1")]]),
    # succeeded on one cluster: the executor that reported it needs no stop
    ([SUBMITTED, placed(), j.JobSucceeded(job_id="j1")], [[], [("c1", "LaunchJob", 1, "j1")], []]),
    # a job this view never saw submitted (or that ended already) gets nothing
    ([placed(), j.JobCancelled(job_id="j1")], [[], []]),
    ([SUBMITTED, placed(), j.JobSucceeded(job_id="j1"), j.JobCancelled(job_id="j1")],
     [[], [("c1", "LaunchJob", 1, "j1")], [], []]),
])
def test_orders_per_event(events, expected):
    assert run(events) == expected


def test_a_gang_across_two_clusters_launches_on_both_and_the_lead_reports():
    gang = j.JobPlaced(job_id="j1", placements=[placement("n1", cluster="c2"), placement("n1", cluster="c1"),
                                                 placement("n2", cluster="c2")])
    assert run([job_submitted("j1", gang=3), gang, j.JobSucceeded(job_id="j1")]) == [
        [], [("c2", "LaunchJob", 1, "j1"), ("c1", "LaunchJob", 1, "j1")], [("c1", "StopJob", 1, "j1")]]


def test_launch_carries_the_spec_placements_and_derived_ids_that_repeat_on_replay():
    events = [SUBMITTED, placed()]
    first, second = DispatchView(), DispatchView()
    envs = [env(e) for e in events]
    orders = [o for e in envs for o in first.apply(e)]
    again = [o for e in envs for o in second.apply(e)]
    (order,) = orders
    assert isinstance(order.command, LaunchJob)
    assert order.command.spec == SUBMITTED.spec and order.command.placements == events[1].placements
    assert order.command.tenant == "acme" and order.command.workflow_id is None
    assert [o.id for o in again] == [order.id]


def test_a_workflow_task_gets_its_upstream_outputs_resolved_to_the_producing_job_and_run():
    spec = w.WorkflowSpec(name="pipe", tasks=[
        w.TaskSpec(name="a", image="i", outputs=["model"]),
        w.TaskSpec(name="b", image="i", inputs=[w.InputRef(task="a", output="model")])])
    a_spec = j.JobSpec(name="a", image="i")
    b_spec = j.JobSpec(name="b", image="i")
    view = DispatchView()
    events = [
        w.WorkflowSubmitted(workflow_id="wf", spec=spec, submitted_at=T0),
        w.TaskReady(workflow_id="wf", task="a", attempt=1, job_id="ja", job=a_spec),
        j.JobSubmitted(job_id="ja", spec=a_spec, workflow_id="wf", task="a"),
        placed("ja"),
        j.JobRequeued(job_id="ja", reason=reason("node_lost"), attempt=2),
        placed("ja", "n2"),
        j.JobSucceeded(job_id="ja"),
        w.TaskSucceeded(workflow_id="wf", task="a", attempt=1, exit_code=0),
        w.TaskReady(workflow_id="wf", task="b", attempt=1, job_id="jb", job=b_spec),
        j.JobSubmitted(job_id="jb", spec=b_spec, workflow_id="wf", task="b"),
    ]
    launches = [o.command for e in events for o in view.apply(env(e)) if isinstance(o.command, LaunchJob)]
    assert [lj.outputs for lj in launches] == [["model"], ["model"]]
    (launch_b,) = [o.command for o in view.apply(env(placed("jb")))]
    assert (launch_b.workflow_id, launch_b.task, launch_b.outputs) == ("wf", "b", [])
    assert launch_b.inputs == [ResolvedInput(task="a", output="model", job_id="ja", attempt=2)]
    view.apply(env(w.WorkflowSucceeded(workflow_id="wf")))
    assert view.flows == {} and view.last_run == {}


def test_tenants_are_kept_apart():
    view = DispatchView()
    view.apply(env(SUBMITTED, "acme"))
    assert view.apply(env(placed(), "beta")) == []
    (order,) = view.apply(env(placed(), "acme"))
    assert (order.tenant, isinstance(order.command, LaunchJob)) == ("acme", True)
    (stop,) = view.apply(env(j.JobCancelled(job_id="j1", reason="user"), "acme"))
    assert isinstance(stop.command, StopJob) and "user" in stop.command.reason
