"""Scaling a deployment within min/max: which slots come and go, and stale autoscaler decisions."""

from __future__ import annotations

import pytest

from domains.errors import DomainError
from domains.inference import replica_job_id
from schemas import inference as inf
from tests.factories.inference import (
    DEP,
    History,
    job,
    ready,
    requested,
    scale,
    statuses,
    types,
)


def slots(log: History) -> list[tuple[int, int, str]]:
    return [(r.index, r.generation, r.status) for r in log.state.replicas]


def test_scaling_up_adds_slots_with_new_generations():
    log = History(requested(replicas=2))
    then = log.when(scale(4, reason="traffic"))
    assert types(then) == ["DeploymentScaled", "ReplicaScheduled", "ReplicaScheduled"]
    assert (then[0].replicas, then[0].previous, then[0].reason) == (4, 2, "traffic")
    assert [(e.replica, e.generation) for e in then[1:]] == [(2, 3), (3, 4)]


def test_scaling_down_removes_not_ready_replicas_before_ready_ones_highest_index_first():
    log = History(requested(replicas=3))
    log.run(ready(0, 1), job(2, 3, "running"))  # slot 1 pending, slot 2 running, slot 0 ready
    then = log.when(scale(1))
    stopping = [e for e in then if isinstance(e, inf.ReplicaStopping)]
    assert [(e.replica, e.job_id) for e in stopping] == [(2, replica_job_id(DEP, 2, 3)), (1, replica_job_id(DEP, 1, 2))]
    assert slots(log) == [(0, 1, "ready")]
    assert [r.index for r in log.state.stopping] == [2, 1]


def test_a_stopping_replica_is_removed_when_its_job_ends_and_ignores_other_progress():
    log = History(requested(replicas=2))
    log.when(scale(1))
    assert log.when(job(1, 2, "running")) == []
    assert types(log.when(job(1, 2, "cancelled"))) == ["ReplicaRemoved"]
    assert log.state.stopping == ()


def test_scaling_down_drops_a_failed_slot_without_a_job_to_stop():
    log = History(requested(replicas=2, max_restarts=0))
    log.run(ready(0, 1), job(1, 2, "failed"))
    assert types(log.when(scale(1))) == ["DeploymentScaled", "ReplicaRemoved"]
    assert slots(log) == [(0, 1, "ready")]


def test_scaling_back_up_reuses_the_lowest_free_index_with_a_fresh_generation():
    log = History(requested(replicas=3))
    log.run(ready(0, 1), ready(2, 3))
    log.when(scale(2))  # slot 1 (pending) goes
    then = log.when(scale(3))
    assert [(e.replica, e.generation) for e in then if isinstance(e, inf.ReplicaScheduled)] == [(1, 4)]


@pytest.mark.parametrize("replicas", [0, 5])
def test_scaling_outside_min_max_is_invalid_and_names_the_field(replicas):
    log = History(requested(min_replicas=1, max_replicas=4))
    with pytest.raises(DomainError) as error:
        log.when(scale(replicas))
    assert (error.value.code, error.value.field) == ("invalid", "replicas")
    assert "1..4" in error.value.message


def test_scaling_to_the_same_count_decides_nothing():
    assert History(requested(replicas=2)).when(scale(2)) == []


def test_a_recommendation_from_an_outdated_count_decides_nothing():
    log = History(requested(replicas=2))
    assert log.when(scale(3, from_replicas=1)) == []
    assert types(log.when(scale(3, from_replicas=2))) == ["DeploymentScaled", "ReplicaScheduled"]


def test_scaling_re_arms_failed_slots_that_used_up_their_restarts():
    log = History(requested(replicas=2, max_restarts=0))
    log.run(ready(0, 1), job(1, 2, "failed"))
    assert log.state.status == "serving"
    then = log.when(scale(2))
    assert [(e.replica, e.generation, e.restarts) for e in then] == [(1, 3, 0)]


def test_scaling_down_to_the_ready_replicas_keeps_a_deployment_serving():
    log = History(requested(min_replicas=1, replicas=2))
    log.run(ready(0, 1))
    assert statuses(log.when(scale(1))) == [] and log.state.status == "serving"
