"""Placement: capacity, wait reasons, binpack vs spread, gangs, priority order, exact GPU indices."""

from __future__ import annotations

import pytest

from domains.allocation import (
    Placed,
    UnknownPolicy,
    Unschedulable,
    place,
    placed_event,
    to_commands,
)
from domains.allocation.errors import AllocationError
from schemas.jobs import MarkUnschedulable, PlaceJob
from schemas.values import WaitReason
from tests.factories.allocation import (
    T0,
    fold,
    job_queued,
    node_registered,
    queued,
    running,
)


def decide(fleet, queue=None, **kw):
    return place(fleet, fleet.queue() if queue is None else queue, now=T0, **kw)


def nodes_of(decision):
    return [(a.node, a.gpu_indices) for a in decision.placements]


def test_waits_when_no_node_has_enough_free_gpus():
    given = fold(node_registered("n1", 8), running("j0", "n1", [0, 1, 2, 3]), job_queued("j1", 8))
    then = decide(given)
    assert then == [Unschedulable("j1", WaitReason(code="insufficient_gpus",
                                                   details={"model": "any", "want": 8, "max_free": 4}))]
    assert str(then[0].reason) == "insufficient_gpus{model=any, want=8, max_free=4}"


def test_names_the_wanted_model_in_the_wait_reason():
    given = fold(node_registered("n1", 8, "H100"), running("j0", "n1", [0, 1, 2, 3], gpu_model="H100"),
                 job_queued("j1", 8, gpu_model="H100"))
    assert str(decide(given)[0].reason) == "insufficient_gpus{model=H100, want=8, max_free=4}"


def test_places_on_the_lowest_free_gpu_indices():
    given = fold(node_registered("n1", 8), running("j0", "n1", [0, 2]), job_queued("j1", 3))
    [then] = decide(given)
    assert isinstance(then, Placed) and nodes_of(then) == [("n1", (1, 3, 4))] and then.gpu_model == "H100"


def test_every_queued_job_gets_exactly_one_decision():
    given = fold(node_registered("n1", 4), *[job_queued(f"j{i}", 1 + i % 3) for i in range(10)])
    then = decide(given)
    assert sorted(d.job_id for d in then) == sorted(f"j{i}" for i in range(10))
    assert all(isinstance(d, Placed) or d.reason.code for d in then)


def test_binpack_fills_the_fullest_node_that_fits():
    given = fold(node_registered("n1", 8), node_registered("n2", 8), running("j0", "n2", [0, 1, 2]),
                 job_queued("j1", 2))
    assert nodes_of(decide(given, policy="binpack")[0]) == [("n2", (3, 4))]


def test_spread_prefers_the_emptiest_node():
    given = fold(node_registered("n1", 8), node_registered("n2", 8), running("j0", "n2", [0, 1, 2]),
                 job_queued("j1", 2), job_queued("j2", 2))
    then = decide(given, policy="spread")
    assert [nodes_of(d) for d in then] == [[("n1", (0, 1))], [("n1", (2, 3))]]


def test_an_unknown_policy_is_rejected_with_its_field():
    with pytest.raises(UnknownPolicy) as err:
        decide(fold(node_registered("n1")), policy="random")
    assert err.value.field == "policy" and err.value.code == "unknown_policy"


def test_a_job_queued_twice_is_rejected_with_its_path():
    given = fold(node_registered("n1"))
    with pytest.raises(AllocationError) as err:
        decide(given, [queued("a"), queued("a")])
    assert err.value.field == "queue[1].job_id"


def test_higher_priority_jobs_are_placed_first():
    given = fold(node_registered("n1", 4), job_queued("low", 4, priority=10), job_queued("high", 4, priority=500))
    then = {d.job_id: d for d in decide(given)}
    assert isinstance(then["high"], Placed) and isinstance(then["low"], Unschedulable)


def test_equal_priority_jobs_are_placed_in_submission_order():
    given = fold(node_registered("n1", 4), job_queued("first", 4), job_queued("second", 4))
    assert [type(d) for d in decide(given)] == [Placed, Unschedulable]


def test_a_job_held_by_policy_keeps_the_policy_reason():
    given = fold(node_registered("n1", 8))
    then = decide(given, [queued("j1", 1, held=WaitReason(code="quota_exceeded", details={"pool": "default"}))])
    assert then == [Unschedulable("j1", WaitReason(code="quota_exceeded", details={"pool": "default"}))]


def test_cpu_only_jobs_are_placed_without_gpu_indices():
    given = fold(node_registered("cpu1", 0), job_queued("etl", 0))
    [then] = decide(given)
    assert nodes_of(then) == [("cpu1", ())] and then.gpu_model is None


def test_placing_does_not_change_the_fleet_it_is_given():
    given = fold(node_registered("n1", 8), job_queued("j1", 2))
    before = given.snapshot()
    decide(given)
    assert given.snapshot() == before


def test_a_decision_folded_back_as_an_event_holds_the_gpus():
    given = fold(node_registered("n1", 2), job_queued("j1", 2), job_queued("j2", 1))
    first = decide(given)
    given.apply(placed_event(first[0]))
    assert decide(given) == [first[1]]
    assert given.nodes["c1--n1"].free == []


def test_decisions_become_scheduling_commands():
    given = fold(node_registered("n1", 2), job_queued("j1", 2), job_queued("j2", 1))
    placed, waiting = decide(given)
    assert [type(c) for c in to_commands(placed) + to_commands(waiting)] == [PlaceJob, MarkUnschedulable]
    assert to_commands(placed)[0].placements[0].gpu_indices == [0, 1]
