"""Fair share: tenants take turns by dominant-resource share, then priority, then submission order."""

from __future__ import annotations

from domains.allocation import Placed, place
from tests.factories.allocation import (
    T0,
    as_tenant,
    fold,
    job_queued,
    node_registered,
    running,
)


def placed_ids(fleet):
    return [d.job_id for d in place(fleet, fleet.queue(), now=T0) if isinstance(d, Placed)]


def test_the_tenant_with_the_smaller_dominant_share_goes_first():
    given = fold(node_registered("n1", 8, cpu=64, memory=512),
                 as_tenant("a", running("big-a", "n1", [0, 1, 2, 3]), job_queued("a1", 2, priority=900)),
                 as_tenant("b", job_queued("b1", 2, priority=1), job_queued("b2", 2, priority=1)))
    # a holds half the GPUs, so b is served twice before a's high-priority job gets the last room
    assert placed_ids(given) == ["b1", "b2"]


def test_tenants_alternate_when_their_shares_stay_equal():
    given = fold(node_registered("n1", 8, cpu=64, memory=512),
                 as_tenant("a", *[job_queued(f"a{i}", 1) for i in range(4)]),
                 as_tenant("b", *[job_queued(f"b{i}", 1) for i in range(4)]))
    assert placed_ids(given) == ["a0", "b0", "a1", "b1", "a2", "b2", "a3", "b3"]


def test_the_dominant_resource_may_be_memory_not_gpus():
    # a holds 1/8 GPUs but 3/4 of the memory: its dominant share (0.75) is larger than b's (0.5 of GPUs)
    given = fold(node_registered("n1", 8, cpu=64, memory=512),
                 as_tenant("a", running("mem-hog", "n1", [0], memory_gb=384), job_queued("a1", 3)),
                 as_tenant("b", running("gpu-hog", "n1", [1, 2, 3, 4]), job_queued("b1", 3)))
    assert placed_ids(given) == ["b1"]


def test_within_a_tenant_higher_priority_then_older_first():
    given = fold(node_registered("n1", 2),
                 as_tenant("a", job_queued("old", 1), job_queued("new-urgent", 1, priority=300), job_queued("newer", 1)))
    assert placed_ids(given) == ["new-urgent", "old"]
