"""Subject mapping: one subject per message, tokens validated."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from bus.subjects import (
    DLQ_SUBJECTS,
    STREAM_SUBJECTS,
    aggregate_subjects,
    dead_letter_subject,
    exec_subject,
    exec_subjects,
    log_subject,
    subject_for,
    usage_subject,
)
from schemas import Command, Envelope, Event

T0 = datetime(2026, 1, 2, tzinfo=timezone.utc)
JOB_ID = "0f8fad5b-d9cb-469f-a165-70867728950e"


class SubmitSubjectJob(Command):
    TYPE = "tessera.scheduling.submit_subject_job.v1"


class SubjectJobSubmitted(Event):
    TYPE = "tessera.scheduling.subject_job_submitted.v2"


def command(tenant: str = "acme") -> Envelope:
    return Envelope.for_command(
        SubmitSubjectJob(), tenant=tenant, actor="alice", source="/gateway", time=T0, id="c1"
    )


def event(aggregate_id: str = JOB_ID, tenant: str = "acme") -> Envelope:
    return Envelope.for_event(
        SubjectJobSubmitted(),
        cause=command(tenant),
        index=0,
        aggregate="job",
        aggregateid=aggregate_id,
        version=1,
        time=T0,
    )


def test_commands_go_to_cmd_by_domain_and_name():
    assert subject_for(command()) == "cmd.acme.scheduling.submit_subject_job"


def test_events_go_to_evt_by_aggregate_and_event_name():
    assert subject_for(event()) == f"evt.acme.job.{JOB_ID}.subject_job_submitted"


def test_platform_aggregates_use_the_platform_tenant():
    assert subject_for(event("node-7", tenant="_platform")).startswith("evt._platform.job.node-7.")


def test_aggregate_filter_matches_every_event_of_the_aggregate():
    assert aggregate_subjects("acme", "job", JOB_ID) == f"evt.acme.job.{JOB_ID}.*"
    prefix = aggregate_subjects("acme", "job", JOB_ID)[:-1]
    assert subject_for(event()).startswith(prefix)


def test_other_streams_subjects():
    assert usage_subject("acme", "gpu_seconds") == "usage.acme.gpu_seconds"
    assert log_subject("acme", "job-1", "task_0") == "log.acme.job-1.task_0"
    assert dead_letter_subject("EVT", "registry-jobs") == "dlq.EVT.registry-jobs"
    assert exec_subject("c1", "acme", "job-1") == "exec.c1.acme.job-1"
    assert exec_subjects("c1") == "exec.c1.>"
    with pytest.raises(ValueError, match="cluster"):
        exec_subject("c.1", "acme", "job-1")


def test_stream_subject_spaces():
    assert STREAM_SUBJECTS == {"CMD": "cmd.>", "EVT": "evt.>", "USAGE": "usage.>", "LOG": "log.>",
                               "EXEC": "exec.>"}
    assert DLQ_SUBJECTS == "dlq.>"


@pytest.mark.parametrize("bad", ["", "a.b", "a b", "*", ">", "job>", "tab\t", "ü"])
def test_bad_tokens_are_rejected_and_named(bad):
    with pytest.raises(ValueError, match="invalid subject") as info:
        log_subject("acme", bad, "t0")
    assert repr(bad) in str(info.value)


@pytest.mark.parametrize(
    "build",
    [
        lambda bad: aggregate_subjects(bad, "job", "j1"),
        lambda bad: aggregate_subjects("acme", bad, "j1"),
        lambda bad: aggregate_subjects("acme", "job", bad),
        lambda bad: usage_subject("acme", bad),
        lambda bad: dead_letter_subject(bad, "c"),
        lambda bad: dead_letter_subject("EVT", bad),
    ],
)
def test_every_builder_validates_its_tokens(build):
    with pytest.raises(ValueError, match="'a.b'"):
        build("a.b")
