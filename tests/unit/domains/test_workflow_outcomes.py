"""Task outcomes: exit-code actions, retries, non-retryable failures blocking downstream, the workflow's end."""

from __future__ import annotations

from domains.scheduling.workflow import parse_workflow_spec, task_job_id
from schemas import workflows as w
from tests.factories.workflows import (
    WF,
    blocked,
    exit_,
    failed,
    fixture_text,
    ran,
    ready,
    retried,
    started,
    state_after,
    submitted,
    succeeded,
    task,
    when,
    workflow,
)

FLAKY = parse_workflow_spec(fixture_text("retry.yaml"))  # fetch: retries 2; 75,137 reschedule


def test_a_reschedule_exit_with_retries_left_runs_the_task_again_as_a_new_job():
    given = [submitted(FLAKY), ready(FLAKY, "fetch"), started("fetch")]
    then = when(given, exit_("fetch", 137))
    assert then == [retried("fetch", attempt=2, code=137), ready(FLAKY, "fetch", attempt=2)]
    assert then[1].job_id == task_job_id(WF, "fetch", 2) != task_job_id(WF, "fetch", 1)


def test_a_retried_task_that_then_succeeds_completes_the_workflow():
    given = [submitted(FLAKY), ready(FLAKY, "fetch"), started("fetch"),
             retried("fetch", 2, 137), ready(FLAKY, "fetch", 2), started("fetch", 2)]
    assert when(given, exit_("fetch", 1)) == [succeeded("fetch", attempt=2, code=1),
                                             w.WorkflowSucceeded(workflow_id=WF)]


def test_a_task_fails_when_a_reschedule_exit_has_no_retries_left():
    given = [submitted(FLAKY)]
    for attempt in (1, 2, 3):
        given += [ready(FLAKY, "fetch", attempt), started("fetch", attempt)]
        if attempt < 3:
            given.append(retried("fetch", attempt + 1, 75))
    then = when(given, exit_("fetch", 75))
    assert then[0] == failed("fetch", code=75, attempt=3, retryable=True)
    assert isinstance(then[1], w.WorkflowFailed) and then[1].failed_tasks == ["fetch"]


def test_an_exit_code_mapped_to_fail_fails_without_retrying():
    given = [submitted(FLAKY), ready(FLAKY, "fetch"), started("fetch")]
    assert when(given, exit_("fetch", 2))[0] == failed("fetch", code=2)


def test_without_exit_actions_zero_completes_and_anything_else_fails_even_with_retries():
    spec = workflow(task("a", retries=3))
    given = [submitted(spec), ready(spec, "a"), started("a")]
    assert when(given, exit_("a", 0))[0] == succeeded("a")
    assert when(given, exit_("a", -9))[0] == failed("a", code=-9)


def test_unmatched_codes_fall_back_to_the_defaults_when_no_wildcard_is_given():
    spec = workflow(task("a", retries=1, exit_actions={"3": "reschedule"}))
    given = [submitted(spec), ready(spec, "a"), started("a")]
    assert when(given, exit_("a", 3))[0] == retried("a", 2, 3)
    assert when(given, exit_("a", 4))[0] == failed("a", code=4)


def diamond():
    #    top
    #   /   \
    # left  right
    #   \   /
    #   bottom -> report        side (independent)
    return workflow(task("top"), task("left", "top"), task("right", "top"),
                    task("bottom", "left", "right"), task("report", "bottom"), task("side"))


def test_a_non_retryable_failure_blocks_every_task_downstream_of_it():
    spec = diamond()
    given = [submitted(spec), ready(spec, "top"), ready(spec, "side"), started("side"),
             *ran(spec, "top")[1:], ready(spec, "left"), ready(spec, "right"), started("left"),
             started("right")]
    then = when(given, exit_("left", 1))
    assert then == [failed("left"), blocked("bottom", by="left"), blocked("report", by="left")]
    assert state_after(given + then).status == "running"  # right and side still run


def test_tasks_not_downstream_of_a_failure_still_run_and_the_workflow_fails_when_they_end():
    spec = diamond()
    given = [submitted(spec), ready(spec, "top"), ready(spec, "side"), *ran(spec, "top")[1:],
             ready(spec, "left"), ready(spec, "right"), started("left"), started("right"),
             failed("left"), blocked("bottom", "left"), blocked("report", "left"), started("side")]
    assert when(given, exit_("right", 0)) == [succeeded("right")]
    given.append(succeeded("right"))
    (done, end) = when(given, exit_("side", 0))
    assert done == succeeded("side")
    assert end == w.WorkflowFailed(workflow_id=WF, reason="failed: 'left' (exit code 1); 2 blocked downstream",
                                   failed_tasks=["left"])


def test_blocked_tasks_never_become_ready_even_when_their_other_upstream_succeeds():
    spec = diamond()
    given = [submitted(spec), *ran(spec, "top"), ready(spec, "side"), ready(spec, "left"),
             ready(spec, "right"), started("right"), failed("left"), blocked("bottom", "left"),
             blocked("report", "left")]
    then = when(given, exit_("right", 0))
    assert not any(isinstance(e, w.TaskReady) for e in then)
    final = state_after(given + then)
    assert (final.tasks["bottom"].status, final.tasks["bottom"].blocked_by) == ("blocked", "left")


def test_a_failure_in_a_barrier_group_blocks_what_waits_for_that_member_only():
    spec = parse_workflow_spec(fixture_text("group_barrier.yaml"))
    spec = spec.model_copy(update={"tasks": [*spec.tasks, task("after", "simulator")]})
    given = [submitted(spec), *ran(spec, "build"), ready(spec, "learner"), ready(spec, "simulator"),
             started("learner"), started("simulator")]
    assert when(given, exit_("simulator", 1)) == [failed("simulator"), blocked("after", by="simulator")]


def test_a_job_that_exits_before_its_start_was_reported_still_decides_the_outcome():
    spec = workflow(task("a"), task("b", "a"))
    given = [submitted(spec), ready(spec, "a")]
    assert when(given, exit_("a", 0)) == [succeeded("a"), ready(spec, "b")]
