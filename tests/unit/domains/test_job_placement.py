"""Placing a queued job and recording why it waits."""

from __future__ import annotations

import pytest

from domains.scheduling.errors import InvalidPlacement
from domains.scheduling.job_decide import decide
from domains.scheduling.job_state import fold
from schemas import jobs as j
from tests.factories.jobs import T0, history, place_job, placement, reason


def test_placing_a_queued_job_records_its_gpus_and_model():
    given = fold(history("queued", gpus=2, gpu_model="H100"))
    where = placement("n3", (4, 5))
    then = decide(given, place_job("j1", where), now=T0)
    assert then == [j.JobPlaced(job_id="j1", placements=[where], gpu_model="H100")]
    state = fold(then, given)
    assert (state.status, state.placements, state.gpu_model) == ("placed", (where,), "H100")


def test_places_a_gang_on_several_nodes():
    given = fold(history("queued", gpus=2, gang=2))
    members = [placement("n1", (0, 1)), placement("n2", (0, 1))]
    then = decide(given, place_job("j1", *members), now=T0)
    assert fold(then, given).placements == tuple(members)


def test_rejects_a_placement_for_part_of_a_gang():
    given = fold(history("queued", gpus=1, gang=3))
    with pytest.raises(InvalidPlacement) as error:
        decide(given, place_job("j1", placement("n1"), placement("n2")), now=T0)
    assert error.value.field == "placements"
    assert "2 members, the gang needs 3" in str(error.value)


def test_rejects_a_member_with_the_wrong_number_of_gpus():
    given = fold(history("queued", gpus=2, gang=2))
    with pytest.raises(InvalidPlacement) as error:
        decide(given, place_job("j1", placement("n1", (0, 1)), placement("n2", (0,))), now=T0)
    assert error.value.problems == [("placements[1].gpu_indices", "1 GPUs, each member needs 2")]


def test_rejects_the_same_gpu_given_twice():
    given = fold(history("queued", gpus=2, gang=2))
    twice_in_member = placement("n1", (3, 3))
    shared = [placement("n2", (0, 1)), placement("n2", (1, 2))]
    with pytest.raises(InvalidPlacement) as error:
        decide(given, place_job("j1", twice_in_member, shared[0]), now=T0)
    assert error.value.problems == [("placements[0].gpu_indices", "a GPU index appears twice")]
    with pytest.raises(InvalidPlacement) as error:
        decide(given, place_job("j1", *shared), now=T0)
    assert [path for path, _ in error.value.problems] == [
        "placements[0].gpu_indices", "placements[1].gpu_indices"]


def test_reports_every_placement_problem_at_once():
    given = fold(history("queued", gpus=2, gang=2))
    with pytest.raises(InvalidPlacement) as error:
        decide(given, place_job("j1", placement("n1", (0,))), now=T0)
    assert [path for path, _ in error.value.problems] == ["placements", "placements[0].gpu_indices"]


def test_two_members_may_share_a_node_on_different_gpus():
    given = fold(history("queued", gpus=2, gang=2))
    then = decide(given, place_job("j1", placement("n1", (0, 1)), placement("n1", (2, 3))), now=T0)
    assert [type(e) for e in then] == [j.JobPlaced]


def test_records_why_a_queued_job_waits():
    given = fold(history("queued", gpus=8))
    why = reason("insufficient_gpus", model="H100", want=8, max_free=4)
    then = decide(given, j.MarkUnschedulable(job_id="j1", reason=why), now=T0)
    assert then == [j.JobUnschedulable(job_id="j1", reason=why)]
    state = fold(then, given)
    assert (state.status, state.wait_reason) == ("queued", why)


def test_does_not_repeat_an_unchanged_wait_reason():
    why = reason("insufficient_gpus", want=8, max_free=4)
    given = fold([*history("queued", gpus=8), j.JobUnschedulable(job_id="j1", reason=why)])
    assert decide(given, j.MarkUnschedulable(job_id="j1", reason=why), now=T0) == []


def test_reports_a_changed_wait_reason():
    given = fold([*history("queued"), j.JobUnschedulable(job_id="j1", reason=reason(max_free=4))])
    changed = reason(max_free=2)
    then = decide(given, j.MarkUnschedulable(job_id="j1", reason=changed), now=T0)
    assert then == [j.JobUnschedulable(job_id="j1", reason=changed)]


def test_a_requeued_job_reports_its_wait_reason_again():
    why = reason("quota_exceeded")
    given = fold([*history("queued"), j.JobUnschedulable(job_id="j1", reason=why),
                  *history("running")[3:],
                  j.JobRequeued(job_id="j1", reason=reason("node_lost"), attempt=2)])
    assert given.wait_reason is None
    then = decide(given, j.MarkUnschedulable(job_id="j1", reason=why), now=T0)
    assert then == [j.JobUnschedulable(job_id="j1", reason=why)]
