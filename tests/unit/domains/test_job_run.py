"""Starting, running and exiting: success, retries and failure."""

from __future__ import annotations

from domains.scheduling.job_decide import decide
from domains.scheduling.job_state import fold
from schemas import jobs as j
from tests.factories.jobs import T0, exited, history, place_job, reason


def test_a_placed_job_starts_then_runs():
    given = fold(history("placed"))
    then = decide(given, j.ReportJobStarting(job_id="j1"), now=T0)
    assert then == [j.JobStarting(job_id="j1")]
    starting = fold(then, given)
    assert starting.status == "starting"
    then = decide(starting, j.ReportJobRunning(job_id="j1"), now=T0)
    assert then == [j.JobRunning(job_id="j1")]
    assert fold(then, starting).status == "running"


def test_a_placed_job_may_report_running_without_starting():
    then = decide(fold(history("placed")), j.ReportJobRunning(job_id="j1"), now=T0)
    assert then == [j.JobRunning(job_id="j1")]


def test_exit_code_zero_succeeds():
    given = fold(history("running"))
    then = decide(given, exited(0), now=T0)
    assert then == [j.JobSucceeded(job_id="j1")]
    state = fold(then, given)
    assert (state.status, state.exit_code) == ("succeeded", 0)


def test_a_job_that_exits_while_starting_is_done():
    then = decide(fold(history("starting")), exited(0), now=T0)
    assert then == [j.JobSucceeded(job_id="j1")]


def test_a_failure_without_retries_fails_the_job():
    given = fold(history("running", max_retries=0))
    then = decide(given, j.ReportJobExited(job_id="j1", exit_code=137, reason="OOMKilled"), now=T0)
    assert then == [j.JobFailed(job_id="j1", exit_code=137, reason="OOMKilled")]
    state = fold(then, given)
    assert (state.status, state.exit_code, state.outcome) == ("failed", 137, "OOMKilled")


def test_a_failure_with_retries_left_requeues_the_job_and_releases_its_gpus():
    given = fold(history("running", max_retries=2))
    then = decide(given, exited(3), now=T0)
    assert then == [j.JobRequeued(job_id="j1", reason=reason("exit_code", exit_code=3), attempt=2)]
    state = fold(then, given)
    assert (state.status, state.attempt, state.retries, state.placements) == ("queued", 2, 1, ())


def test_a_job_runs_at_most_max_retries_plus_one_times():
    state = fold(history("running", max_retries=2))
    outcomes = []
    for _ in range(3):
        then = decide(state, exited(1), now=T0)
        outcomes.append(type(then[0]))
        state = fold(then, state)
        if state.status == "queued":
            state = fold([*decide(state, place_job("j1"), now=T0), j.JobRunning(job_id="j1")], state)
    assert outcomes == [j.JobRequeued, j.JobRequeued, j.JobFailed]
    assert (state.status, state.attempt) == ("failed", 3)


def test_a_requeue_after_a_node_loss_does_not_use_up_a_retry():
    given = fold([*history("running", max_retries=1, on_node_lost="reschedule"),
                  j.JobRequeued(job_id="j1", reason=reason("node_lost", node="n0"), attempt=2),
                  *history("running")[3:]])
    then = decide(given, exited(1), now=T0)
    assert then == [j.JobRequeued(job_id="j1", reason=reason("exit_code", exit_code=1), attempt=3)]
