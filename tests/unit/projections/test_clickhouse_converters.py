"""ClickHouse converters, table-tested without a database: event (+ state) -> rows."""

from __future__ import annotations

from decimal import Decimal

import pytest

from projections.clickhouse import gpu_usage, job_events, node_samples, state
from projections.clickhouse.timestamps import gpu_seconds
from schemas import fleet as f
from schemas import jobs as j
from tests.factories.projections import (
    History,
    at,
    cluster_onboarded,
    job_placed,
    job_queued,
    job_submitted,
    node_registered,
    slot,
    waiting,
)


def one(event, tenant="acme", at_s=0.0):
    h = History()
    return h.fleet(event, at_s=at_s) if event.type_domain() == "registry" else h.job(event, tenant, at_s=at_s)


def folded(h: History, upto: int | None = None) -> state.UsageState:
    st = state.UsageState()
    for env, seq in h.events[:upto]:
        state.advance(st, env, seq)
    return st


@pytest.mark.parametrize("event, expected", [
    (job_submitted("j1", gpus=4, gang=2, gpu_model="H100"), ("job_submitted", "submitted", "H100", 8, [], "", None)),
    (job_queued("j1", gpus=1), ("job_queued", "queued", "", 1, [], "", None)),
    (job_placed("j1", slot("n1", (0, 1)), slot("n2", (3,))),
     ("job_placed", "placed", "H100", 3, ["c1--n1", "c1--n2"], "", None)),
    (j.JobUnschedulable(job_id="j1", reason=waiting(model="H100", want=8, max_free=4)),
     ("job_unschedulable", "queued", "", 0, [], "insufficient_gpus{model=H100, want=8, max_free=4}", None)),
    (j.JobFailed(job_id="j1", exit_code=137, reason="oom"), ("job_failed", "failed", "", 0, [], "oom", 137)),
    (j.JobSucceeded(job_id="j1"), ("job_succeeded", "succeeded", "", 0, [], "", None)),
])
def test_each_job_event_is_one_row_with_what_the_event_carries(event, expected):
    env, _ = one(event, at_s=1.0015)
    [row] = job_events.to_rows(env, 7)
    assert row[:4] == (7, at(1.001), "acme", "j1") and row[4:] == expected


def test_fleet_events_are_not_job_events():
    assert job_events.to_rows(*one(cluster_onboarded())) == []


def test_a_placement_opens_an_interval_and_its_end_closes_it_with_exact_gpu_seconds():
    h = History()
    h.fleet(node_registered("n1", gpus=8))
    h.job(job_placed("j1", slot("n1", (0, 1, 2)), model="A100"), at_s=10)
    h.job(j.JobSucceeded(job_id="j1"), at_s=3610.5)
    opened = gpu_usage.to_rows(*h.events[1], folded(h, 1))
    closed = gpu_usage.to_rows(*h.events[2], folded(h, 2))
    assert opened == [("acme", "j1", 2, 2, "A100", 3, at(10), at(10), Decimal(0), 0, "", [("c1", "n1", 3)])]
    assert closed == [("acme", "j1", 2, 3, "A100", 3, at(10), at(3610.5), Decimal("10801.500"), 1, "job_succeeded",
                       [("c1", "n1", 3)])]


@pytest.mark.parametrize("ending", [
    j.JobRequeued(job_id="j1", reason=waiting("node_lost"), attempt=1), j.JobFailed(job_id="j1"),
    j.JobCancelled(job_id="j1"), j.JobPreempted(job_id="j1", by_job="j2", reason=waiting("preempted")),
])
def test_every_end_of_a_placement_closes_its_interval(ending):
    h = History()
    h.job(job_placed("j1"), at_s=0)
    h.job(ending, at_s=60)
    [row] = gpu_usage.to_rows(*h.events[1], folded(h, 1))
    assert (row[8], row[9], row[10]) == (Decimal(60), 1, ending.type_name())


def test_an_end_without_an_open_placement_writes_no_interval():
    h = History()
    h.job(j.JobCancelled(job_id="j1"))
    assert gpu_usage.to_rows(*h.events[0], state.UsageState()) == []


def test_gpu_seconds_are_counted_in_whole_milliseconds():
    assert gpu_seconds(2, at(0.0004), at(1.0019)) == Decimal("2.002")


def test_node_samples_follow_registration_placement_and_release():
    h = History()
    h.fleet(node_registered("n1", gpus=8))
    h.fleet(node_registered("n2", gpus=4, model="A100"))
    h.job(job_placed("j1", slot("n1", (0, 1)), slot("n2", (0,))), at_s=5)
    h.job(j.JobSucceeded(job_id="j1"), at_s=9)
    h.fleet(f.NodeRemoved(cluster="c1", node="n2"), at_s=12)
    rows = [node_samples.to_rows(env, seq, folded(h, seq - 1)) for env, seq in h.events]
    assert rows == [
        [(1, at(0), "c1", "n1", "H100", 8, 0, 0)],
        [(2, at(0), "c1", "n2", "A100", 4, 0, 0)],
        [(3, at(5), "c1", "n1", "H100", 8, 2, 0), (3, at(5), "c1", "n2", "A100", 4, 1, 0)],
        [(4, at(9), "c1", "n1", "H100", 8, 0, 0), (4, at(9), "c1", "n2", "A100", 4, 0, 0)],
        [(5, at(12), "c1", "n2", "A100", 4, 0, 1)],
    ]


def test_a_placement_on_an_unknown_node_writes_no_sample():
    h = History()
    h.job(job_placed("j1", slot("ghost")))
    assert node_samples.to_rows(*h.events[0], state.UsageState()) == []
