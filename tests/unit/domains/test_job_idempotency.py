"""Redelivered commands beyond the dedupe window are recognised (RELIABILITY T9)."""

from __future__ import annotations

from domains.scheduling.job_decide import decide
from domains.scheduling.job_state import (
    APPLIED_LIMIT,
    JobState,
    already_applied,
    evolve_envelope,
    fold,
)
from schemas import jobs as j
from tests.factories.jobs import T0, envelope, envelopes, exited, history, reason


def _replay(events, cause="cmd") -> JobState:
    state = JobState()
    for env in envelopes(events, cause=cause):
        state = evolve_envelope(state, env)
    return state


def test_remembers_the_commands_whose_events_were_applied():
    state = _replay(history("running"))
    assert all(already_applied(state, f"cmd-{n}") for n in range(6))
    assert not already_applied(state, "cmd-6")


def test_a_decision_of_several_events_is_remembered_once():
    given = _replay(history("submitted"))
    decided = decide(given, j.AdmitJob(job_id="j1"), now=T0)
    state = given
    for index, event in enumerate(decided):
        state = evolve_envelope(state, envelope(event, cause="admit", version=2 + index, index=index))
    assert state.status == "queued"
    assert state.applied == ("cmd-0", "admit")


def test_evolving_envelopes_gives_the_same_state_as_the_events_apart_from_bookkeeping():
    events = history("running")
    replayed = _replay(events)
    assert replayed.status == fold(events).status
    assert replayed.placements == fold(events).placements


def test_a_redelivered_failure_report_is_recognised_after_the_job_was_retried():
    # Without the applied ids, the old report would fail the job's second run.
    first_report = "exit-1"
    state = _replay(history("running", max_retries=1))
    requeued = decide(state, exited(1), now=T0)
    state = evolve_envelope(state, envelope(requeued[0], cause=first_report, version=7))
    for n, event in enumerate(history("running")[3:]):
        state = evolve_envelope(state, envelope(event, cause=f"rerun-{n}", version=8 + n))
    assert state.status == "running"
    assert already_applied(state, first_report)


def test_remembers_only_the_most_recent_commands():
    state = _replay(history("queued"))
    for n in range(APPLIED_LIMIT + 1):
        why = reason("node_lost", node=f"n{n}")
        state = evolve_envelope(state, envelope(j.JobRequeued(job_id="j1", reason=why, attempt=n + 2),
                                                cause=f"lost-{n}", version=4 + n))
    assert len(state.applied) == APPLIED_LIMIT
    assert not already_applied(state, "lost-0")
    assert already_applied(state, f"lost-{APPLIED_LIMIT}")


def test_wait_reasons_do_not_push_real_commands_out_of_the_window():
    state = _replay(history("queued"))
    state = evolve_envelope(state, envelope(j.JobRequeued(job_id="j1", reason=reason("node_lost"), attempt=2),
                                            cause="lost-0", version=4))
    for n in range(APPLIED_LIMIT * 2):
        why = reason("insufficient_gpus", max_free=n)
        state = evolve_envelope(state, envelope(j.JobUnschedulable(job_id="j1", reason=why),
                                                cause=f"mark-{n}", version=5 + n))
    assert already_applied(state, "lost-0")


def test_an_event_without_a_cause_records_nothing():
    env = envelope(j.JobSubmitted(job_id="j1", spec=history("submitted")[0].spec), cause="x")
    state = evolve_envelope(JobState(), env.model_copy(update={"causationid": None}))
    assert (state.status, state.applied) == ("submitted", ())
