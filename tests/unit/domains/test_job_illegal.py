"""Every command a status does not allow is refused, naming the status and the command."""

from __future__ import annotations

import pytest

from domains.scheduling.errors import JobIllegalTransition, JobNotFound, WrongJob
from domains.scheduling.job_decide import ALLOWED, decide
from domains.scheduling.job_state import TERMINAL, JobState, fold
from schemas import jobs as j
from tests.factories.jobs import PATH, T0, every_command, history, reason

STATUSES = [*PATH, *sorted(TERMINAL)]
ILLEGAL = [
    (status, command)
    for status in STATUSES
    for command in every_command()
    if status not in ALLOWED[type(command)]
]


def test_the_matrix_covers_every_status_and_command():
    assert {s for s, _ in ILLEGAL} == set(STATUSES)
    assert {type(c) for _, c in ILLEGAL} == set(ALLOWED)


@pytest.mark.parametrize("status, command", ILLEGAL,
                         ids=[f"{s}-{type(c).__name__}" for s, c in ILLEGAL])
def test_refuses_a_command_its_status_does_not_allow(status, command):
    given = fold(history(status, preemptible=True, on_node_lost="reschedule"))
    with pytest.raises(JobIllegalTransition) as error:
        decide(given, command, now=T0)
    refused = error.value
    assert (refused.status, refused.command, refused.field) == (status, type(command).__name__, "status")
    assert refused.code == "illegal_transition"
    assert status in str(refused) and type(command).__name__ in str(refused)


@pytest.mark.parametrize("command", every_command(), ids=lambda c: type(c).__name__)
def test_refuses_a_command_for_a_job_never_submitted(command):
    with pytest.raises(JobNotFound) as error:
        decide(JobState(), command, now=T0)
    assert (error.value.code, error.value.field) == ("not_found", "job_id")


def test_refuses_a_command_for_another_job():
    with pytest.raises(WrongJob):
        decide(fold(history("running")), j.CancelJob(job_id="j2"), now=T0)


@pytest.mark.parametrize("status", sorted(TERMINAL))
def test_events_after_a_terminal_status_change_nothing(status):
    given = fold(history(status))
    later = [j.JobRunning(job_id="j1"), j.JobRequeued(job_id="j1", reason=reason(), attempt=9),
             j.JobCancelled(job_id="j1"), *history("running")]
    after = fold(later, given)
    assert after == given
