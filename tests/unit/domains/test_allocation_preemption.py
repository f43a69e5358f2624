"""Preemption: the fewest lowest-priority preemptible victims, never equal or higher priority."""

from __future__ import annotations

from domains.allocation import Preempt, Unschedulable, place, to_commands
from schemas.jobs import MarkUnschedulable, PreemptJob
from tests.factories.allocation import T0, fold, job_queued, node_registered, running


def decide(fleet):
    return place(fleet, fleet.queue(), now=T0)


def test_preempts_the_lowest_priority_preemptible_job_that_frees_enough():
    given = fold(node_registered("n1", 8),
                 running("p10", "n1", [0, 1, 2, 3], priority=10, preemptible=True),
                 running("p20", "n1", [4, 5, 6, 7], priority=20, preemptible=True),
                 job_queued("urgent", 4, priority=500))
    [then] = decide(given)
    assert isinstance(then, Preempt) and then.victims == ("p10",)
    assert str(then.reason) == "insufficient_gpus{model=any, want=4, max_free=0}"


def test_preempts_only_as_many_jobs_as_needed():
    given = fold(node_registered("n1", 8), node_registered("n2", 8),
                 running("a", "n1", [0, 1, 2, 3], priority=10, preemptible=True),
                 running("b", "n2", [0, 1, 2, 3], priority=11, preemptible=True),
                 running("n1-pinned", "n1", [4, 5, 6, 7], priority=900),
                 running("n2-rest", "n2", [4, 5, 6, 7], priority=12, preemptible=True),
                 job_queued("urgent", 8, priority=500))
    # freeing "a" alone is not enough (n1 stays half pinned); n2 needs both of its jobs gone
    [then] = decide(given)
    assert isinstance(then, Preempt) and then.victims == ("b", "n2-rest")


def test_never_preempts_equal_or_higher_priority_jobs():
    given = fold(node_registered("n1", 8),
                 running("same", "n1", [0, 1, 2, 3], priority=100, preemptible=True),
                 running("higher", "n1", [4, 5, 6, 7], priority=200, preemptible=True),
                 job_queued("j", 4, priority=100))
    assert [type(d) for d in decide(given)] == [Unschedulable]


def test_never_preempts_non_preemptible_jobs():
    given = fold(node_registered("n1", 8), running("batch", "n1", list(range(8)), priority=1),
                 job_queued("j", 4, priority=900))
    assert [type(d) for d in decide(given)] == [Unschedulable]


def test_waits_when_even_all_candidates_would_not_free_enough():
    given = fold(node_registered("n1", 8), running("low", "n1", [0, 1], priority=1, preemptible=True),
                 running("pinned", "n1", [2, 3, 4, 5, 6, 7], priority=900), job_queued("j", 4, priority=500))
    assert [type(d) for d in decide(given)] == [Unschedulable]


def test_a_victim_is_claimed_by_one_waiting_job_only():
    given = fold(node_registered("n1", 4), running("low", "n1", [0, 1, 2, 3], priority=1, preemptible=True),
                 job_queued("j1", 4, priority=500), job_queued("j2", 4, priority=400))
    then = decide(given)
    assert isinstance(then[0], Preempt) and then[0].victims == ("low",)
    assert isinstance(then[1], Unschedulable)


def test_preemption_frees_room_for_a_whole_gang():
    given = fold(node_registered("n1", 8), node_registered("n2", 8),
                 running("x", "n1", list(range(8)), priority=5, preemptible=True),
                 running("y", "n2", list(range(8)), priority=6, preemptible=True),
                 job_queued("g", 8, gang=2, priority=700))
    assert decide(given)[0].victims == ("x", "y")


def test_a_preemption_becomes_preempt_commands_for_each_victim():
    given = fold(node_registered("n1", 4), running("low", "n1", [0, 1, 2, 3], priority=1, preemptible=True),
                 job_queued("j1", 4, priority=500))
    commands = to_commands(decide(given)[0])
    assert [type(c) for c in commands] == [PreemptJob, MarkUnschedulable]
    assert (commands[0].job_id, commands[0].by_job) == ("low", "j1")
