"""Fleet state from events: GPUs held and released, invariants enforced, replay equivalence."""

from __future__ import annotations

import pytest

from domains.allocation import GpuConflict, UnknownNode
from schemas.fleet import NodeRemoved
from schemas.jobs import JobFailed, JobPreempted, JobQueued, JobRejected
from schemas.values import WaitReason
from tests.factories.allocation import (
    fold,
    job_cancelled,
    job_placed,
    job_queued,
    job_requeued,
    job_succeeded,
    node_cordoned,
    node_lost,
    node_registered,
    running,
    spec,
)

HISTORY = [node_registered("n1", 8), node_registered("n2", 4, "A100"), *running("a", "n1", [0, 1]),
           *running("b", "n2", [3]), job_queued("c", 2), node_cordoned("n2"), job_succeeded("a"),
           *running("d", "n1", [0, 5, 7]), node_lost("n1"), job_requeued("d")]


def free(fleet, node="n1"):
    return fleet.nodes[f"c1--{node}"].free


def test_replaying_the_same_events_rebuilds_the_same_fleet():
    assert fold(*HISTORY).snapshot() == fold(*HISTORY).snapshot()


def test_a_clone_is_equal_and_independent():
    fleet = fold(*HISTORY)
    twin = fleet.clone()
    assert twin.snapshot() == fleet.snapshot()
    twin.apply(job_placed("c", ("n1", [0, 1])))
    assert twin.snapshot() != fleet.snapshot() and free(fleet) == list(range(8))


def test_a_placed_job_holds_exactly_its_gpus():
    fleet = fold(node_registered("n1", 8), running("a", "n1", [1, 6]))
    assert free(fleet) == [0, 2, 3, 4, 5, 7] and fleet.nodes["c1--n1"].allocs == {"a": (1, 6)}


@pytest.mark.parametrize("ending", [job_succeeded("a"), JobFailed(job_id="a"), job_cancelled("a"),
                                    JobPreempted(job_id="a", by_job="z", reason=WaitReason(code="preempted"))])
def test_an_ended_job_gives_its_gpus_back(ending):
    fleet = fold(node_registered("n1", 8), running("a", "n1", [1, 6]), ending)
    assert free(fleet) == list(range(8)) and "a" not in fleet.running and not fleet.queued


def test_a_requeued_job_gives_its_gpus_back_and_waits_at_its_old_place():
    fleet = fold(node_registered("n1", 8), running("a", "n1", [0]), job_queued("b"), job_requeued("a"))
    assert free(fleet) == list(range(8)) and [q.job_id for q in sorted(fleet.queue(), key=lambda q: q.seq)] == ["a", "b"]


def test_a_rejected_or_cancelled_queued_job_leaves_the_queue():
    fleet = fold(node_registered("n1"), job_queued("a"), job_queued("b"),
                 JobRejected(job_id="a", reason=WaitReason(code="quota_exceeded")), job_cancelled("b"))
    assert fleet.queue() == []


def test_a_gpu_already_held_cannot_be_given_again():
    fleet = fold(node_registered("n1", 8), running("a", "n1", [0, 1]), job_queued("b", 2))
    before = fleet.snapshot()
    with pytest.raises(GpuConflict) as err:
        fleet.apply(job_placed("b", ("n1", [1, 2])))
    assert err.value.field == "placements[0].gpu_indices" and "already allocated" in err.value.message
    assert fleet.snapshot() == before


def test_a_gpu_index_beyond_the_node_is_refused():
    fleet = fold(node_registered("n1", 4), job_queued("b", 1))
    with pytest.raises(GpuConflict, match="not on the node"):
        fleet.apply(job_placed("b", ("n1", [4])))


def test_a_gang_naming_one_gpu_twice_is_refused_whole():
    fleet = fold(node_registered("n1", 8), job_queued("g", 2, gang=2))
    before = fleet.snapshot()
    with pytest.raises(GpuConflict) as err:
        fleet.apply(job_placed("g", ("n1", [0, 1]), ("n1", [1, 2])))
    assert err.value.field == "placements[1].gpu_indices" and fleet.snapshot() == before


def test_a_placement_on_an_unknown_node_is_refused():
    with pytest.raises(UnknownNode) as err:
        fold(node_registered("n1"), job_queued("a"), job_placed("a", ("ghost", [0])))
    assert err.value.field == "placements[0].node" and err.value.code == "unknown_node"


def test_a_redelivered_placement_changes_nothing():
    fleet = fold(node_registered("n1", 8), running("a", "n1", [0, 1]))
    before = fleet.snapshot()
    fleet.apply(job_placed("a", ("n1", [0, 1])))
    assert fleet.snapshot() == before


def test_a_lost_node_keeps_its_jobs_gpus_until_the_jobs_end():
    fleet = fold(node_registered("n1", 8), running("a", "n1", [0, 1]), node_lost("n1"))
    assert free(fleet) == [2, 3, 4, 5, 6, 7] and not fleet.nodes["c1--n1"].schedulable
    fleet.apply(JobFailed(job_id="a"))
    assert free(fleet) == list(range(8))


def test_a_removed_node_no_longer_counts_towards_capacity():
    fleet = fold(node_registered("n1", 8), node_registered("n2", 4), NodeRemoved(cluster="c1", node="n1"))
    assert list(fleet.nodes) == ["c1--n2"] and fleet.capacity[0] == 4


def test_re_registering_a_node_with_fewer_gpus_than_in_use_is_refused():
    fleet = fold(node_registered("n1", 8), running("a", "n1", [6]))
    with pytest.raises(GpuConflict) as err:
        fleet.apply(node_registered("n1", 4))
    assert err.value.field == "node.gpu_count"


def test_the_envelope_tenant_is_kept_with_the_queued_job():
    fleet = fold((JobQueued(job_id="a", spec=spec("a")), "acme"))
    assert fleet.queue()[0].tenant == "acme"
