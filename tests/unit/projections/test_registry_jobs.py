"""Jobs read model: lifecycle status, reasons, placements, filters, pagination, idempotency."""

from __future__ import annotations

import pytest

from projections.registry import InvalidQuery, JobsModel, Slot
from schemas import jobs as j
from tests.factories.projections import (
    History,
    admitted_and_queued,
    job_placed,
    job_submitted,
    slot,
    waiting,
)


def fold(h: History) -> JobsModel:
    model = JobsModel()
    for env, seq in h.events:
        model.apply(env, seq)
    return model


def test_a_submitted_job_is_listed_with_its_tenant_spec_and_submission_time():
    h = History().tick(5)
    h.job(job_submitted("j1", gpus=2, gpu_model="H100", pool="train", labels={"team": "nlp"}), tenant="acme")
    job = fold(h).get("j1")
    assert (job.status, job.tenant, job.gpus, job.gpu_model, job.pool, job.labels) == (
        "submitted", "acme", 2, "H100", "train", {"team": "nlp"})
    assert job.submitted_at == h.events[0][0].time


@pytest.mark.parametrize("event, status", [
    (j.JobRunning(job_id="j1"), "running"),
    (j.JobSucceeded(job_id="j1"), "succeeded"),
    (j.JobFailed(job_id="j1", exit_code=3, reason="oom"), "failed"),
    (j.JobCancelled(job_id="j1", reason="by user"), "cancelled"),
    (j.JobPreempted(job_id="j1", by_job="j9", reason=waiting("preempted")), "preempted"),
])
def test_status_follows_the_last_lifecycle_event(event, status):
    h = History()
    admitted_and_queued(h, "j1")
    h.job(job_placed("j1"))
    h.job(event)
    assert fold(h).get("j1").status == status


def test_a_waiting_job_shows_its_machine_readable_reason_until_it_is_placed():
    h = History()
    admitted_and_queued(h, "j1", gpus=8, gpu_model="H100")
    h.job(j.JobUnschedulable(job_id="j1", reason=waiting(model="H100", want=8, max_free=4)))
    waiting_job = fold(h).get("j1")
    h.job(job_placed("j1", slot("n1", tuple(range(8)))))
    placed_job = fold(h).get("j1")
    assert (waiting_job.status, waiting_job.reason, waiting_job.reason_code) == (
        "queued", "insufficient_gpus{model=H100, want=8, max_free=4}", "insufficient_gpus")
    assert (placed_job.status, placed_job.reason, placed_job.placements) == (
        "placed", None, (Slot("c1", "n1", tuple(range(8))),))


def test_a_requeued_job_loses_its_placement_and_counts_the_attempt():
    h = History()
    admitted_and_queued(h, "j1")
    h.job(job_placed("j1"))
    h.job(j.JobRequeued(job_id="j1", reason=waiting("node_lost"), attempt=1))
    job = fold(h).get("j1")
    assert (job.status, job.placements, job.attempt, job.reason) == ("queued", (), 1, "node_lost")


def test_a_failed_job_keeps_its_exit_code_and_reason():
    h = History()
    admitted_and_queued(h, "j1")
    h.job(j.JobFailed(job_id="j1", exit_code=137, reason="oom killed"))
    job = fold(h).get("j1")
    assert (job.exit_code, job.reason) == (137, "oom killed")


def test_redelivered_and_replayed_events_are_not_applied_twice():
    h = History()
    admitted_and_queued(h, "j1")
    h.job(j.JobRequeued(job_id="j1", reason=waiting("preempted"), attempt=1))
    model = fold(h)
    before = model.state_hash()
    applied = [model.apply(env, seq) for env, seq in h.events]
    assert applied == [False] * len(h.events)
    assert model.state_hash() == before and model.position() == len(h.events)


def test_two_folds_of_the_same_history_have_the_same_hash_and_a_different_history_does_not():
    h = History()
    admitted_and_queued(h, "j1")
    same = fold(h).state_hash() == fold(h).state_hash()
    h.job(j.JobRunning(job_id="j1"))
    assert same and fold(h).state_hash() != fold(History()).state_hash()


def test_another_tenants_job_answers_like_a_missing_one():
    h = History()
    h.job(job_submitted("j1"), tenant="acme")
    model = fold(h)
    assert model.get("j1", tenant="globex") is None and model.get("nope", tenant="acme") is None
    assert model.get("j1", tenant="acme") is not None


def many_jobs() -> JobsModel:
    h = History()
    for i in range(30):
        tenant = "acme" if i % 3 else "globex"
        h.job(job_submitted(f"j{i:02}", pool="train" if i % 2 else "infer", labels={"team": f"t{i % 5}"},
                            priority=i % 4 * 100), tenant=tenant)
        if i % 2:
            h.job(j.JobAdmitted(job_id=f"j{i:02}"), tenant=tenant)
    return fold(h)


def all_pages(model: JobsModel, **query) -> list[list[str]]:
    pages, cursor = [], None
    while True:
        page = model.list(cursor=cursor, **query)
        pages.append([v.id for v in page.items])
        if page.next_cursor is None:
            return pages
        cursor = page.next_cursor


def test_filters_by_tenant_status_pool_and_label_together():
    model = many_jobs()
    page = model.list(tenant="acme", status="admitted", pool="train", label="team=t1", page_size=50)
    expected = [f"j{i:02}" for i in range(30) if i % 3 and i % 2 and i % 5 == 1]
    assert sorted(v.id for v in page.items) == expected and page.next_cursor is None


def test_label_filter_matches_a_key_alone_or_a_key_and_value():
    model = many_jobs()
    assert len(model.list(label="team", page_size=100).items) == 30
    assert len(model.list(label="team=t0", page_size=100).items) == 6


def test_pages_cover_every_match_once_in_sort_order():
    model = many_jobs()
    pages = all_pages(model, tenant="acme", sort="created", page_size=7)
    flat = [i for p in pages for i in p]
    assert flat == sorted(f"j{i:02}" for i in range(30) if i % 3)
    assert [len(p) for p in pages] == [7, 7, 6]


def test_newest_first_is_the_default_order():
    assert [v.id for v in many_jobs().list(page_size=3).items] == ["j29", "j28", "j27"]


def test_priority_sort_puts_the_highest_priority_first_then_the_oldest():
    items = many_jobs().list(sort="priority", page_size=3).items
    assert [(v.priority, v.id) for v in items] == [(300, "j03"), (300, "j07"), (300, "j11")]


def test_a_cursor_stays_valid_when_a_listed_job_changes_status():
    h = History()
    for i in range(6):
        h.job(job_submitted(f"j{i}"))
    model = fold(h)
    first = model.list(sort="created", page_size=3)
    model.apply(*event_at(j.JobAdmitted(job_id="j1"), seq=7))
    second = model.list(sort="created", page_size=3, cursor=first.next_cursor)
    assert [v.id for v in first.items] == ["j0", "j1", "j2"] and [v.id for v in second.items] == ["j3", "j4", "j5"]


def event_at(event, seq):
    """One job event as if stored at `seq`."""
    env, _ = History().job(event)
    return env, seq


@pytest.mark.parametrize("query, field", [
    ({"sort": "colour"}, "sort"), ({"cursor": "%%%"}, "cursor"), ({"cursor": "NQ=="}, "cursor"),
    ({"cursor": "of another sort"}, "cursor"), ({"page_size": 0}, "page_size"),
])
def test_a_bad_query_names_the_offending_field(query, field):
    if query.get("cursor") == "of another sort":
        query = {"sort": "name", "cursor": many_jobs().list(sort="created", page_size=1).next_cursor}
    with pytest.raises(InvalidQuery) as err:
        many_jobs().list(**query)
    assert err.value.field == field
