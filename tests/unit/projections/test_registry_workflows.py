"""Workflows read model: the DAG with per-task states, counts, the workflow's end, filters, paging, idempotency."""

from __future__ import annotations

import pytest

from domains.scheduling import workflow as wf
from projections.registry import InvalidQuery, Registry, WorkflowsModel
from projections.registry.workflows import evolve
from schemas import derived_id
from schemas import workflows as w
from tests.factories.projections import History, admitted_and_queued, at


def task(name: str, *depends: str, inputs: tuple[tuple[str, str], ...] = (), **more) -> w.TaskSpec:
    return w.TaskSpec(name=name, image="img:1", depends_on=list(depends),
                      inputs=[w.InputRef(task=t, output=o) for t, o in inputs], **more)


def spec(*tasks: w.TaskSpec, name: str = "etl", **more) -> w.WorkflowSpec:
    return w.WorkflowSpec(name=name, tasks=list(tasks) or [task("a")], **more)


def emit(h: History, event: w.Event, tenant: str = "acme") -> None:
    h.add(event, tenant=tenant, aggregate="workflow", aggregate_id=event.workflow_id)  # type: ignore[attr-defined]


def submit(h: History, id: str = "wf1", workflow: w.WorkflowSpec | None = None, tenant: str = "acme") -> None:
    emit(h, w.WorkflowSubmitted(workflow_id=id, spec=workflow or spec(), submitted_at=at(h.clock)), tenant)


def ready(h: History, task: str, attempt: int = 1, id: str = "wf1") -> None:
    emit(h, w.TaskReady(workflow_id=id, task=task, attempt=attempt, job_id=derived_id(id, task, attempt),
                        job=w.JobSpec(name=task, image="img:1")))


def fold(h: History) -> WorkflowsModel:
    model = WorkflowsModel()
    for env, seq in h.events:
        model.apply(env, seq)
    return model


def states(model: WorkflowsModel, id: str = "wf1") -> dict[str, str]:
    return {t.name: t.status for t in model.get(id).tasks}


DIAMOND = spec(task("a", outputs=["data"]), task("b", "a"), task("c", inputs=(("a", "data"),)),
               task("d", "b", "c", inputs=(("a", "data"),)))


def test_a_submitted_workflow_shows_its_dag_with_implied_dependencies_and_every_task_pending():
    h = History().tick(7)
    submit(h, workflow=DIAMOND)
    view = fold(h).get("wf1")
    assert (view.tenant, view.name, view.status, view.submitted_at) == ("acme", "etl", "running", at(7))
    assert [(t.name, t.depends_on, t.status) for t in view.tasks] == [
        ("a", (), "pending"), ("b", ("a",), "pending"), ("c", ("a",), "pending"), ("d", ("b", "c", "a"), "pending")]
    assert view.counts == {"pending": 4}


def test_groups_show_their_members_and_lead():
    h = History()
    submit(h, workflow=spec(task("lead", group="g"), task("worker", group="g"), task("solo"),
                            groups=[w.GroupSpec(name="g", lead="lead")]))
    assert [(t.name, t.group, t.lead) for t in fold(h).get("wf1").tasks] == [
        ("lead", "g", True), ("worker", "g", False), ("solo", None, False)]


@pytest.mark.parametrize("events, expected", [
    ([], {"status": "ready", "attempt": 1, "exit_code": None}),
    ([w.TaskStarted(workflow_id="wf1", task="a", attempt=1)], {"status": "running", "attempt": 1}),
    ([w.TaskSucceeded(workflow_id="wf1", task="a", attempt=1, exit_code=0)], {"status": "succeeded", "exit_code": 0}),
    ([w.TaskFailed(workflow_id="wf1", task="a", attempt=1, exit_code=2)], {"status": "failed", "exit_code": 2}),
    ([w.TaskRetried(workflow_id="wf1", task="a", attempt=2, exit_code=75)], {"status": "retrying", "exit_code": 75}),
])
def test_a_task_state_follows_its_last_event(events, expected):
    h = History()
    submit(h, workflow=spec(task("a", retries=1), task("b", "a")))
    ready(h, "a")
    for event in events:
        emit(h, event)
    a = fold(h).get("wf1").task("a")
    assert {k: getattr(a, k) for k in expected} == expected
    assert a.job_id == derived_id("wf1", "a", 1)


def test_a_retried_task_runs_again_as_a_new_job_and_keeps_every_attempts_job():
    h = History()
    submit(h, workflow=spec(task("a", retries=2)))
    ready(h, "a")
    emit(h, w.TaskRetried(workflow_id="wf1", task="a", attempt=2, exit_code=75))
    ready(h, "a", attempt=2)
    a = fold(h).get("wf1").task("a")
    assert (a.status, a.attempt, a.job_id, a.jobs, a.exit_code) == (
        "ready", 2, derived_id("wf1", "a", 2), (derived_id("wf1", "a", 1), derived_id("wf1", "a", 2)), 75)


def test_a_non_retryable_failure_blocks_downstream_and_fails_the_workflow():
    h = History()
    submit(h, workflow=spec(task("a"), task("b", "a"), task("c", "b"), task("side")))
    ready(h, "a")
    ready(h, "side")
    emit(h, w.TaskFailed(workflow_id="wf1", task="a", attempt=1, exit_code=1))
    emit(h, w.TaskBlocked(workflow_id="wf1", task="b", blocked_by="a"))
    emit(h, w.TaskBlocked(workflow_id="wf1", task="c", blocked_by="a"))
    emit(h, w.TaskSucceeded(workflow_id="wf1", task="side", attempt=1, exit_code=0))
    emit(h, w.WorkflowFailed(workflow_id="wf1", reason="task a failed", failed_tasks=["a"]))
    view = fold(h).get("wf1")
    assert states(fold(h)) == {"a": "failed", "b": "blocked", "c": "blocked", "side": "succeeded"}
    assert (view.status, view.reason, view.failed_tasks, view.task("c").blocked_by) == (
        "failed", "task a failed", ("a",), "a")
    assert view.counts == {"failed": 1, "blocked": 2, "succeeded": 1}


@pytest.mark.parametrize("end, status, reason", [
    (w.WorkflowCancelled(workflow_id="wf1", reason="by alice"), "cancelled", "by alice"),
    (w.WorkflowTimedOut(workflow_id="wf1", timeout_s=60, timed_out_at=at(60)), "timed_out", "timed out after 60s"),
])
def test_cancel_and_timeout_end_every_unfinished_task_and_nothing_changes_afterwards(end, status, reason):
    h = History()
    submit(h, workflow=spec(task("a"), task("b"), task("c", "a")))
    ready(h, "a")
    ready(h, "b")
    emit(h, w.TaskSucceeded(workflow_id="wf1", task="b", attempt=1, exit_code=0))
    emit(h, end)
    emit(h, w.TaskSucceeded(workflow_id="wf1", task="a", attempt=1, exit_code=0))  # a late report
    view = fold(h).get("wf1")
    assert (view.status, view.reason) == (status, reason)
    assert states(fold(h)) == {"a": "cancelled", "b": "succeeded", "c": "cancelled"}
    assert view.counts == {"cancelled": 2, "succeeded": 1}


def test_the_view_agrees_with_the_workflow_aggregate_on_every_task():
    h = History()
    submit(h, workflow=DIAMOND)
    ready(h, "a")
    emit(h, w.TaskSucceeded(workflow_id="wf1", task="a", attempt=1, exit_code=0))
    ready(h, "b")
    ready(h, "c")
    emit(h, w.TaskStarted(workflow_id="wf1", task="b", attempt=1))
    aggregate = wf.fold(env.data for env, _ in h.events)
    view = fold(h).get("wf1")
    assert {n: (t.status, t.attempt, t.job_id) for n, t in aggregate.tasks.items()} == {
        t.name: (t.status, t.attempt, t.job_id) for t in view.tasks}


def test_events_for_unknown_workflows_or_from_another_tenant_change_nothing():
    h = History()
    submit(h, tenant="acme")
    emit(h, w.TaskReady(workflow_id="wf1", task="a", attempt=1, job_id="x", job=w.JobSpec(name="a", image="i:1")),
         tenant="globex")
    emit(h, w.TaskStarted(workflow_id="ghost", task="a", attempt=1))
    model = fold(h)
    assert states(model) == {"a": "pending"} and model.get("ghost") is None and len(model) == 1


def test_the_converter_returns_the_same_view_for_events_it_does_not_use():
    h = History()
    submit(h)
    view = evolve(None, *h.events[0])
    admitted_and_queued(h, "j1")
    assert evolve(view, *h.events[-1]) is view


def test_another_tenants_workflow_answers_like_a_missing_one():
    h = History()
    submit(h, tenant="acme")
    model = fold(h)
    assert model.get("wf1", tenant="globex") is None and model.get("nope", tenant="acme") is None
    assert model.get("wf1", tenant="acme").id == "wf1"


def many_workflows() -> WorkflowsModel:
    h = History()
    for i in range(25):
        id, tenant = f"wf{i:02}", "acme" if i % 5 else "globex"
        submit(h, id, spec(task("a"), name="nightly" if i % 2 else "adhoc"), tenant)
        if i % 3 == 0:
            emit(h, w.WorkflowSucceeded(workflow_id=id), tenant)
    return fold(h)


def all_pages(model: WorkflowsModel, **query) -> list[list[str]]:
    pages, cursor = [], None
    while True:
        page = model.list(cursor=cursor, **query)
        pages.append([v.id for v in page.items])
        if page.next_cursor is None:
            return pages
        cursor = page.next_cursor


def test_filters_by_tenant_status_and_name_together():
    model = many_workflows()
    found = model.list(tenant="acme", status="succeeded", name="nightly", page_size=50)
    expected = [f"wf{i:02}" for i in range(25) if i % 5 and i % 3 == 0 and i % 2]
    assert sorted(v.id for v in found.items) == expected and found.next_cursor is None


def test_pages_walk_every_workflow_once_newest_first_by_default():
    pages = all_pages(many_workflows(), page_size=7)
    flat = [id for page in pages for id in page]
    assert [len(p) for p in pages] == [7, 7, 7, 4]
    assert flat == [f"wf{i:02}" for i in reversed(range(25))]


def test_sorting_by_name_and_by_last_update():
    model = many_workflows()
    by_name = [v.name for v in model.list(sort="name", page_size=25).items]
    assert by_name == sorted(by_name)
    assert model.list(sort="-updated", page_size=1).items[0].id == "wf24"


@pytest.mark.parametrize("query, field", [({"sort": "size"}, "sort"), ({"cursor": "@@"}, "cursor"),
                                          ({"page_size": 0}, "page_size")])
def test_a_bad_query_names_its_field(query, field):
    with pytest.raises(InvalidQuery) as caught:
        many_workflows().list(**query)
    assert caught.value.field == field


def test_redelivered_events_are_not_applied_twice_and_a_rebuild_gives_the_same_hash():
    h = History()
    submit(h, workflow=DIAMOND)
    ready(h, "a")
    emit(h, w.TaskRetried(workflow_id="wf1", task="a", attempt=2, exit_code=75))
    live = Registry()
    for env, seq in h.events[:2] + h.events:  # a redelivered prefix
        live.apply(env, seq)
    rebuilt = Registry()
    rebuilt.bulk(True)
    rebuilt.apply_batch(h.events)
    rebuilt.bulk(False)
    assert live.state_hash() == rebuilt.state_hash() and live.position() == len(h.events)
    assert live.workflows.get("wf1").task("a").status == "retrying"
    ready(h, "a", attempt=2)
    live.apply(*h.events[-1])
    assert live.state_hash() != rebuilt.state_hash()


def test_the_registry_reads_workflow_events():
    assert "workflow" in Registry.aggregates  # the runner passes a projection only the aggregates it names
