"""DAG semantics: which tasks become ready when (serial, parallel, fan-in, inputs, groups)."""

from __future__ import annotations

from domains.scheduling.workflow import parse_workflow_spec, task_job_id
from schemas import workflows as w
from tests.factories.workflows import (
    T0,
    WF,
    exit_,
    fixture_text,
    group,
    ran,
    ready,
    started,
    submit,
    submitted,
    succeeded,
    takes,
    task,
    when,
    workflow,
)


def ready_tasks(events) -> list[str]:
    return [e.task for e in events if isinstance(e, w.TaskReady)]


def test_submitting_makes_only_the_first_task_of_a_chain_ready():
    spec = parse_workflow_spec(fixture_text("serial.yaml"))
    then = when([], submit(spec))
    assert then == [submitted(spec, at=T0), ready(spec, "download")]


def test_a_ready_task_carries_the_job_to_submit_under_a_deterministic_id():
    spec = workflow(task("a", gpus=2, gpu_model="A100"))
    (_, event) = when([], submit(spec))
    assert event.job_id == task_job_id(WF, "a", 1) == when([], submit(spec))[1].job_id
    assert (event.attempt, event.job.gpus, event.job.gpu_model, event.job.max_retries) == (1, 2, "A100", 0)


def test_the_next_task_of_a_chain_becomes_ready_when_its_upstream_succeeds():
    spec = parse_workflow_spec(fixture_text("serial.yaml"))
    given = [submitted(spec), ready(spec, "download"), started("download")]
    assert when(given, exit_("download", 0)) == [succeeded("download"), ready(spec, "preprocess")]


def test_a_serial_workflow_succeeds_when_its_last_task_succeeds():
    spec = parse_workflow_spec(fixture_text("serial.yaml"))
    given = [submitted(spec), *ran(spec, "download"), *ran(spec, "preprocess"),
             ready(spec, "report"), started("report")]
    assert when(given, exit_("report", 0)) == [succeeded("report"), w.WorkflowSucceeded(workflow_id=WF)]


def test_independent_tasks_become_ready_together_at_submit():
    spec = workflow(task("a"), task("b"), task("c", "a", "b"))
    assert ready_tasks(when([], submit(spec))) == ["a", "b"]


def test_fan_out_makes_every_consumer_of_an_output_ready_at_once():
    spec = parse_workflow_spec(fixture_text("fan_out_fan_in.yaml"))
    given = [submitted(spec), ready(spec, "prepare"), started("prepare")]
    assert ready_tasks(when(given, exit_("prepare"))) == ["train-lr1", "train-lr2", "train-lr3"]


def test_fan_in_waits_until_every_upstream_task_succeeded():
    spec = parse_workflow_spec(fixture_text("fan_out_fan_in.yaml"))
    given = [submitted(spec), *ran(spec, "prepare"), *ran(spec, "train-lr1"),
             ready(spec, "train-lr2"), ready(spec, "train-lr3"), started("train-lr2"), started("train-lr3")]
    assert ready_tasks(when(given, exit_("train-lr2"))) == []
    given.append(succeeded("train-lr2"))
    assert ready_tasks(when(given, exit_("train-lr3"))) == ["evaluate"]


def test_consuming_an_upstream_output_implies_depending_on_that_task():
    spec = workflow(task("produce", outputs=["data"]), task("consume", inputs=[takes("produce", "data")]))
    assert ready_tasks(when([], submit(spec))) == ["produce"]
    given = [submitted(spec), ready(spec, "produce"), started("produce")]
    assert ready_tasks(when(given, exit_("produce"))) == ["consume"]


def test_a_barrier_group_starts_together_lead_first_once_its_outside_dependencies_succeeded():
    spec = parse_workflow_spec(fixture_text("group_barrier.yaml"))
    assert ready_tasks(when([], submit(spec))) == ["build"]
    given = [submitted(spec), ready(spec, "build"), started("build")]
    assert ready_tasks(when(given, exit_("build"))) == ["learner", "simulator"]


def test_a_barrier_member_without_dependencies_still_waits_for_the_group():
    spec = workflow(task("prep"), task("lead", "prep", group="g"), task("helper", group="g"),
                    groups=(group("g", "lead"),))
    assert ready_tasks(when([], submit(spec))) == ["prep"]
    given = [submitted(spec), ready(spec, "prep"), started("prep")]
    assert ready_tasks(when(given, exit_("prep"))) == ["lead", "helper"]


def test_a_group_without_barrier_lets_members_start_on_their_own_dependencies():
    spec = workflow(task("prep"), task("lead", "prep", group="g"), task("helper", group="g"),
                    groups=(group("g", "lead", barrier=False),))
    assert ready_tasks(when([], submit(spec))) == ["prep", "helper"]


def test_a_task_reports_running_once_its_job_started():
    spec = workflow(task("a"))
    assert when([submitted(spec), ready(spec, "a")], w.RecordTaskStarted(workflow_id=WF, task="a")) == [
        started("a")]
