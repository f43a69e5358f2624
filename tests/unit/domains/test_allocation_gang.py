"""Gangs: all members placed or none, each with its own GPUs, within one GPU model."""

from __future__ import annotations

from domains.allocation import Placed, Unschedulable, place
from tests.factories.allocation import T0, fold, job_queued, node_registered, running


def decide(fleet, **kw):
    return place(fleet, fleet.queue(), now=T0, **kw)


def test_places_every_member_of_a_gang_across_nodes():
    given = fold(node_registered("n1", 8), node_registered("n2", 8), job_queued("g", 4, gang=4))
    [then] = decide(given)
    assert [(a.node, a.gpu_indices) for a in then.placements] == [
        ("n1", (0, 1, 2, 3)), ("n1", (4, 5, 6, 7)), ("n2", (0, 1, 2, 3)), ("n2", (4, 5, 6, 7))]


def test_places_no_member_when_the_whole_gang_does_not_fit():
    given = fold(node_registered("n1", 8), node_registered("n2", 8), node_registered("n3", 8),
                 running("busy", "n3", [0, 1, 2, 3, 4, 5]), job_queued("g", 8, gang=4), job_queued("after", 8))
    then = decide(given)
    assert then[0] == Unschedulable("g", then[0].reason)
    assert str(then[0].reason) == "gang_incomplete{want=4, fit=2}"
    # nothing was held back for the failed gang: the next job gets a whole node
    assert isinstance(then[1], Placed) and then[1].placements[0].node == "n1"


def test_a_gang_whose_members_fit_nowhere_waits_for_gpus():
    given = fold(node_registered("n1", 4), job_queued("g", 8, gang=2))
    assert str(decide(given)[0].reason) == "insufficient_gpus{model=any, want=8, max_free=4}"


def test_gang_members_share_one_gpu_model():
    given = fold(node_registered("a", 8, "A100"), node_registered("h", 8, "H100"), job_queued("g", 8, gang=2))
    assert str(decide(given)[0].reason) == "gang_incomplete{want=2, fit=1}"


def test_spread_gang_puts_members_on_the_emptiest_nodes():
    given = fold(node_registered("n1", 8), node_registered("n2", 8), job_queued("g", 2, gang=2))
    [then] = decide(given, policy="spread")
    assert [a.node for a in then.placements] == ["n1", "n2"]
