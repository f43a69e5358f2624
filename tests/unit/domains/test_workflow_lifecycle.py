"""The workflow's own lifecycle: submit, cancel, timeout, and reports that are invalid, stale or late."""

from __future__ import annotations

import pytest

from domains.errors import Conflict, IllegalTransition, NotFound
from domains.scheduling.workflow import task_job_id
from domains.scheduling.workflow.errors import InvalidWorkflowSpec, WrongWorkflow
from schemas import workflows as w
from tests.factories.workflows import (
    WF,
    cancel,
    check_timeout,
    exit_,
    later,
    ran,
    ready,
    start,
    started,
    state_after,
    submit,
    submitted,
    task,
    when,
    workflow,
)

CHAIN = workflow(task("a"), task("b"), task("c", "a", "b"), timeout_s=600)


def running_chain():
    """a running, b ready, c pending."""
    return [submitted(CHAIN), ready(CHAIN, "a"), ready(CHAIN, "b"), started("a")]


def test_submitting_the_same_workflow_again_changes_nothing():
    assert when([submitted(CHAIN), ready(CHAIN, "a")], submit(CHAIN)) == []


def test_submitting_another_spec_under_an_existing_id_is_a_conflict():
    with pytest.raises(Conflict) as raised:
        when([submitted(CHAIN)], submit(workflow(task("x"))))
    assert raised.value.field == "workflow_id"


def test_a_spec_with_graph_problems_is_rejected_at_submit_with_every_path():
    spec = workflow(task("a", "b"), task("b", "a"), task("c", "zz"))
    with pytest.raises(InvalidWorkflowSpec) as raised:
        when([], submit(spec))
    assert [(p.path, p.message) for p in raised.value.problems] == [
        ("spec.tasks", "dependency cycle a -> b -> a"),
        ("spec.tasks[2].depends_on[0]", "unknown task 'zz'"),
    ]


def test_cancel_stops_the_jobs_of_ready_and_running_tasks_and_cancels_every_unfinished_task():
    then = when(running_chain(), cancel("user asked"))
    assert then == [w.WorkflowCancelled(workflow_id=WF, reason="user asked",
                                        stop_jobs=[task_job_id(WF, "a", 1), task_job_id(WF, "b", 1)])]
    final = state_after(running_chain() + then)
    assert final.status == "cancelled"
    assert {name: t.status for name, t in final.tasks.items()} == dict.fromkeys("abc", "cancelled")


def test_cancelling_a_cancelled_workflow_again_changes_nothing():
    given = running_chain() + [w.WorkflowCancelled(workflow_id=WF)]
    assert when(given, cancel()) == []


def test_a_finished_workflow_cannot_be_cancelled():
    spec = workflow(task("a"))
    given = [submitted(spec), *ran(spec, "a"), w.WorkflowSucceeded(workflow_id=WF)]
    with pytest.raises(IllegalTransition, match="already succeeded"):
        when(given, cancel())


def test_a_workflow_times_out_once_its_timeout_passed_since_submit():
    assert when(running_chain(), check_timeout(), now=later(599)) == []
    then = when(running_chain(), check_timeout(), now=later(600))
    assert then == [w.WorkflowTimedOut(workflow_id=WF, timeout_s=600, timed_out_at=later(600),
                                       stop_jobs=[task_job_id(WF, "a", 1), task_job_id(WF, "b", 1)])]
    final = state_after(running_chain() + then)
    assert final.status == "timed_out" and final.tasks["c"].status == "cancelled"


def test_a_workflow_without_timeout_or_already_ended_never_times_out():
    spec = workflow(task("a"))
    assert when([submitted(spec), ready(spec, "a")], check_timeout(), now=later(10**9)) == []
    ended = running_chain() + [w.WorkflowCancelled(workflow_id=WF)]
    assert when(ended, check_timeout(), now=later(10**9)) == []


def test_reports_after_the_workflow_ended_change_nothing():
    given = running_chain() + [w.WorkflowCancelled(workflow_id=WF)]
    assert when(given, exit_("a", 0)) == []
    assert when(given, start("b")) == []


def test_repeated_and_stale_reports_change_nothing():
    spec = workflow(task("a", retries=1, exit_actions={"1": "reschedule"}))
    given = [submitted(spec), ready(spec, "a"), started("a"), w.TaskRetried(
        workflow_id=WF, task="a", attempt=2, exit_code=1), ready(spec, "a", 2), started("a", 2)]
    assert when(given, start("a")) == []  # already running
    assert when(given, exit_("a", 1, attempt=1)) == []  # the first run's exit, redelivered


def test_a_report_for_an_attempt_never_announced_is_illegal():
    with pytest.raises(IllegalTransition) as raised:
        when(running_chain(), exit_("a", 0, attempt=2))
    assert raised.value.field == "attempt"


def test_a_task_that_was_never_made_ready_cannot_start_or_exit():
    with pytest.raises(IllegalTransition, match="'c' is pending and was never made ready"):
        when(running_chain(), start("c"))
    with pytest.raises(IllegalTransition):
        when(running_chain(), exit_("c", 0))


def test_a_task_the_workflow_lacks_is_not_found():
    with pytest.raises(NotFound) as raised:
        when(running_chain(), start("zz"))
    assert raised.value.field == "task"


def test_commands_for_a_workflow_never_submitted_are_not_found():
    for command in (cancel(), start("a"), exit_("a"), check_timeout()):
        with pytest.raises(NotFound) as raised:
            when([], command)
        assert raised.value.field == "workflow_id"


def test_a_command_for_another_workflow_is_never_applied():
    with pytest.raises(WrongWorkflow):
        when(running_chain(), w.CancelWorkflow(workflow_id="other"))


def test_replaying_the_same_history_gives_the_same_decision():
    assert when(running_chain(), exit_("a", 0)) == when(running_chain(), exit_("a", 0))
