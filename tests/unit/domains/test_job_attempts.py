"""Executor reports name their run: a late report of an earlier run changes nothing."""

from __future__ import annotations

import pytest

from domains.scheduling import errors
from domains.scheduling.job_decide import decide
from domains.scheduling.job_state import fold
from schemas import jobs as j
from tests.factories.jobs import T0, history, job_placed, placement, reason


def requeued_and_placed_again() -> list[j.Event]:
    """Attempt 1 ran and its node was lost; attempt 2 is placed elsewhere."""
    return [*history("running", on_node_lost="reschedule"),
            j.JobRequeued(job_id="j1", reason=reason("node_lost"), attempt=2),
            job_placed("j1", placement("n2"))]


def test_the_attempt_counts_the_placements():
    given = requeued_and_placed_again()
    placements = sum(isinstance(e, j.JobPlaced) for e in given)
    assert fold(given).attempt == placements == 2


@pytest.mark.parametrize("report", [
    j.ReportJobStarting(job_id="j1", attempt=1),
    j.ReportJobRunning(job_id="j1", attempt=1),
    j.ReportJobExited(job_id="j1", exit_code=1, attempt=1),
    j.ReportJobExited(job_id="j1", exit_code=0, attempt=1),
])
def test_a_late_report_of_an_earlier_run_is_ignored(report):
    given = fold(requeued_and_placed_again())
    assert decide(given, report, now=T0) == []


def test_a_late_report_of_a_run_of_a_queued_job_is_ignored_not_refused():
    given = fold([*history("running", on_node_lost="reschedule"),
                  j.JobRequeued(job_id="j1", reason=reason("node_lost"), attempt=2)])
    assert decide(given, j.ReportJobExited(job_id="j1", exit_code=0, attempt=1), now=T0) == []
    with pytest.raises(errors.JobIllegalTransition):
        decide(given, j.ReportJobExited(job_id="j1", exit_code=0), now=T0)  # no attempt: taken as current


def test_reports_of_the_current_run_take_effect_and_are_recorded_without_the_attempt():
    given = fold(requeued_and_placed_again())
    assert decide(given, j.ReportJobStarting(job_id="j1", attempt=2), now=T0) == [j.JobStarting(job_id="j1")]
    assert decide(given, j.ReportJobRunning(job_id="j1", attempt=2), now=T0) == [j.JobRunning(job_id="j1")]
    running = fold([j.JobRunning(job_id="j1")], given)
    exited = j.ReportJobExited(job_id="j1", exit_code=0, attempt=2, cpu_seconds=1.5, max_rss_mb=12.0)
    assert decide(running, exited, now=T0) == [j.JobSucceeded(job_id="j1")]


def test_a_report_without_an_attempt_is_taken_as_current():
    given = fold(history("placed"))
    assert decide(given, j.ReportJobStarting(job_id="j1"), now=T0) == [j.JobStarting(job_id="j1")]


def test_resource_use_must_not_be_negative():
    with pytest.raises(ValueError, match="cpu_seconds"):
        j.ReportJobExited(job_id="j1", exit_code=0, cpu_seconds=-1)


@pytest.mark.parametrize("status", ["cancelled", "succeeded", "failed", "preempted"])
def test_a_report_of_the_current_run_of_an_ended_job_is_ignored_with_an_attempt_and_refused_without(status):
    given = fold(history(status, preemptible=True))
    assert decide(given, j.ReportJobRunning(job_id="j1", attempt=given.attempt), now=T0) == []
    assert decide(given, j.ReportJobExited(job_id="j1", exit_code=0, attempt=1), now=T0) == []
    with pytest.raises(errors.JobIllegalTransition):
        decide(given, j.ReportJobRunning(job_id="j1"), now=T0)
