"""Cancel, preemption, node loss and timeouts."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domains.scheduling.errors import NotPreemptible
from domains.scheduling.job_decide import decide, timed_out
from domains.scheduling.job_state import ACTIVE, JobState, evolve_envelope, fold
from schemas import jobs as j
from tests.factories.jobs import T0, envelopes, history, node_lost, preempt, reason


@pytest.mark.parametrize("status", sorted(ACTIVE))
def test_any_job_that_has_not_ended_can_be_cancelled(status):
    given = fold(history(status))
    then = decide(given, j.CancelJob(job_id="j1", reason="user request"), now=T0)
    assert then == [j.JobCancelled(job_id="j1", reason="user request")]
    state = fold(then, given)
    assert (state.status, state.outcome) == ("cancelled", "user request")


@pytest.mark.parametrize("status", ["placed", "starting", "running"])
def test_preempting_a_preemptible_job_ends_it_as_preempted(status):
    given = fold(history(status, preemptible=True))
    then = decide(given, preempt(), now=T0)
    assert then == [j.JobPreempted(job_id="j1", by_job="j9", reason=reason("preempted", priority=900))]
    state = fold(then, given)
    assert (state.status, state.outcome) == ("preempted", "preempted{priority=900} by j9")


def test_refuses_to_preempt_a_job_that_is_not_preemptible():
    given = fold(history("running", preemptible=False))
    with pytest.raises(NotPreemptible) as error:
        decide(given, preempt(), now=T0)
    assert (error.value.field, error.value.code) == ("spec.preemptible", "not_preemptible")


@pytest.mark.parametrize("status", ["placed", "starting", "running"])
def test_node_lost_requeues_a_job_that_allows_rescheduling(status):
    given = fold(history(status, on_node_lost="reschedule"))
    then = decide(given, node_lost("n0"), now=T0)
    assert then == [j.JobRequeued(job_id="j1", reason=reason("node_lost", cluster="c1", node="n0"),
                                  attempt=2)]
    state = fold(then, given)
    assert (state.status, state.placements, state.retries) == ("queued", (), 0)


@pytest.mark.parametrize("status", ["placed", "starting", "running"])
def test_node_lost_fails_a_job_that_does_not_allow_rescheduling(status):
    given = fold(history(status, on_node_lost="fail"))
    then = decide(given, node_lost("n0"), now=T0)
    assert then == [j.JobFailed(job_id="j1", reason="node lost: c1/n0")]
    assert fold(then, given).status == "failed"


def test_node_lost_of_any_gang_member_affects_the_whole_job():
    given = fold(history("running", gang=2, on_node_lost="reschedule"))
    then = decide(given, node_lost("n1"), now=T0)
    assert [type(e) for e in then] == [j.JobRequeued]


def test_losing_a_node_the_job_does_not_use_changes_nothing():
    given = fold(history("running", on_node_lost="fail"))
    assert decide(given, node_lost("n7"), now=T0) == []
    assert decide(given, node_lost("n0", cluster="c2"), now=T0) == []


def _running_since_t0(**spec_overrides) -> JobState:
    state = JobState()
    for env in envelopes(history("running", **spec_overrides), at=T0 - timedelta(seconds=5)):
        state = evolve_envelope(state, env)
    assert state.running_since == T0
    return state


def test_a_job_times_out_once_it_has_run_for_its_timeout():
    state = _running_since_t0(timeout_s=60)
    assert not timed_out(state, T0 + timedelta(seconds=59))
    assert timed_out(state, T0 + timedelta(seconds=60))


def test_a_job_without_timeout_never_times_out():
    assert not timed_out(_running_since_t0(), T0 + timedelta(days=365))


def test_a_job_that_is_not_running_does_not_time_out():
    state = _running_since_t0(timeout_s=60)
    later = T0 + timedelta(hours=1)
    assert not timed_out(fold([j.JobSucceeded(job_id="j1")], state), later)
    assert not timed_out(fold(history("queued", timeout_s=60)), later)


def test_a_timed_out_job_is_cancelled_with_reason_timeout():
    state = _running_since_t0(timeout_s=60)
    then = decide(state, j.CancelJob(job_id="j1", reason="timeout"), now=T0 + timedelta(minutes=2))
    assert then == [j.JobCancelled(job_id="j1", reason="timeout")]
