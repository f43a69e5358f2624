"""Submitting, admitting and rejecting a job."""

from __future__ import annotations

import pytest

from domains.scheduling.errors import InvalidSubmission, JobExists
from domains.scheduling.job_decide import decide
from domains.scheduling.job_state import JobState, fold
from schemas import jobs as j
from tests.factories.jobs import T0, history, reason, spec, submit_job


def test_submitting_a_new_job_records_its_spec():
    then = decide(JobState(), submit_job("j1", gpus=4, gpu_model="H100"), now=T0)
    assert then == [j.JobSubmitted(job_id="j1", spec=spec(gpus=4, gpu_model="H100"))]
    state = fold(then)
    assert (state.status, state.job_id, state.attempt) == ("submitted", "j1", 1)


def test_a_workflow_task_records_its_workflow_and_task():
    command = j.SubmitJob(job_id="j1", spec=spec(), workflow_id="wf1", task="train")
    state = fold(decide(JobState(), command, now=T0))
    assert (state.workflow_id, state.task) == ("wf1", "train")


@pytest.mark.parametrize("given_field, missing", [("workflow_id", "task"), ("task", "workflow_id")])
def test_rejects_a_workflow_id_without_a_task_and_vice_versa(given_field, missing):
    command = j.SubmitJob(job_id="j1", spec=spec(), **{given_field: "x"})
    with pytest.raises(InvalidSubmission) as error:
        decide(JobState(), command, now=T0)
    assert error.value.field == missing


@pytest.mark.parametrize("status", ["submitted", "running", "succeeded"])
def test_resubmitting_the_identical_job_changes_nothing(status):
    given = fold(history(status, gpus=2))
    assert decide(given, submit_job(gpus=2), now=T0) == []


def test_submitting_another_spec_under_an_existing_id_is_a_conflict():
    given = fold(history("queued", gpus=2))
    with pytest.raises(JobExists) as error:
        decide(given, submit_job(gpus=4), now=T0)
    assert (error.value.code, error.value.field) == ("job_exists", "job_id")


def test_admission_queues_the_job_in_the_same_decision():
    given = fold(history("submitted", gpus=2))
    then = decide(given, j.AdmitJob(job_id="j1"), now=T0)
    assert then == [j.JobAdmitted(job_id="j1"), j.JobQueued(job_id="j1", spec=spec(gpus=2))]
    assert fold(then, given).status == "queued"


def test_rejection_ends_the_job_with_its_reason():
    given = fold(history("submitted"))
    refusal = reason("quota_exceeded", pool="a100")
    then = decide(given, j.RejectJob(job_id="j1", reason=refusal), now=T0)
    assert then == [j.JobRejected(job_id="j1", reason=refusal)]
    state = fold(then, given)
    assert (state.status, state.outcome) == ("rejected", "quota_exceeded{pool=a100}")
