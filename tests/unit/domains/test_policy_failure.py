"""Failure policy: a lost node reschedules the jobs whose spec allows it and fails the rest."""

from __future__ import annotations

import pytest

from domains.policy import on_node_lost
from domains.policy.errors import JobNotOnNode
from schemas.fleet import NodeLost
from schemas.jobs import Placement, ReportNodeLost
from schemas.values import WaitReason
from tests.factories.policy import Job, spec

LOST = NodeLost(cluster="c1", node="n2", reason=WaitReason(code="heartbeat_timeout"))
ON_N2 = [Placement(cluster="c1", node="n1", gpu_indices=[0]), Placement(cluster="c1", node="n2", gpu_indices=[0])]


def test_reschedules_a_job_whose_spec_asks_for_it():
    assert on_node_lost(Job(spec(on_node_lost="reschedule"), ON_N2), LOST) == "reschedule"


def test_fails_a_job_whose_spec_asks_for_it():
    assert on_node_lost(Job(spec(on_node_lost="fail"), ON_N2), LOST) == "fail"


def test_fails_by_default():
    assert on_node_lost(Job(spec(), ON_N2), LOST) == "fail"


def test_does_not_spend_the_jobs_retries():
    assert on_node_lost(Job(spec(on_node_lost="reschedule", max_retries=0), ON_N2), LOST) == "reschedule"


def test_accepts_the_scheduling_command_as_the_lost_node():
    report = ReportNodeLost(job_id="j1", cluster="c1", node="n2")
    assert on_node_lost(Job(spec(on_node_lost="reschedule"), ON_N2), report) == "reschedule"


def test_refuses_a_node_the_job_holds_nothing_on():
    elsewhere = [Placement(cluster="c2", node="n2", gpu_indices=[0])]
    with pytest.raises(JobNotOnNode) as info:
        on_node_lost(Job(spec(on_node_lost="reschedule"), elsewhere), LOST)
    assert info.value.field == "node" and "c1/n2" in info.value.message


def test_a_job_state_without_placements_is_decided_from_its_spec_alone():
    assert on_node_lost(Job(spec(on_node_lost="reschedule"), None), LOST) == "reschedule"
