"""Node health: which heartbeats become events, node lost, and the pure lost-node check."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from domains.errors import DomainError
from domains.registry import decide_node, fold_node, lost_nodes
from schemas.fleet import NodeHealthy, NodeLost
from tests.factories.registry import (
    T0,
    at,
    heartbeat,
    mark_lost,
    node_healthy,
    node_lost,
    node_registered,
)


def test_the_first_heartbeat_marks_the_node_healthy():
    then = decide_node(fold_node([node_registered()]), heartbeat(when=at(5)), now=at(6))
    assert then == [NodeHealthy(cluster="c1", node="n1", at=at(5))]
    state = fold_node([node_registered(), *then])
    assert (state.health, state.last_heartbeat) == ("healthy", at(5))


def test_routine_heartbeats_of_a_healthy_node_emit_nothing():
    state = fold_node([node_registered(), node_healthy(when=at(0))])
    assert decide_node(state, heartbeat(when=at(10)), now=at(10)) == []


def test_a_heartbeat_after_the_node_was_lost_marks_it_healthy_again():
    state = fold_node([node_registered(), node_healthy(when=at(0)), node_lost()])
    then = decide_node(state, heartbeat(when=at(90)), now=at(90))
    assert then == [NodeHealthy(cluster="c1", node="n1", at=at(90))]
    assert fold_node(then, state).schedulable


def test_a_stale_heartbeat_does_not_revive_a_lost_node():
    state = fold_node([node_registered(), node_healthy(when=at(30)), node_lost()])
    assert decide_node(state, heartbeat(when=at(30)), now=at(95)) == []


def test_a_heartbeat_without_a_time_zone_is_rejected():
    with pytest.raises(DomainError) as raised:
        decide_node(fold_node([node_registered()]), heartbeat(when=datetime(2025, 1, 1)), now=T0)
    assert (raised.value.code, raised.value.field) == ("naive_datetime", "at")


def test_marking_a_node_lost_says_why_and_when_it_was_last_healthy():
    state = fold_node([node_registered(), node_healthy(when=at(0))])
    [event] = decide_node(state, mark_lost(), now=at(60))
    assert isinstance(event, NodeLost)
    assert str(event.reason) == f"node_lost{{reason=heartbeat timeout, last_healthy_at={at(0).isoformat()}}}"
    assert fold_node([event], state).health == "lost"


def test_a_node_that_never_sent_a_heartbeat_can_be_lost():
    [event] = decide_node(fold_node([node_registered()]), mark_lost(), now=T0)
    assert event.reason.details == {"reason": "heartbeat timeout"}


def test_marking_a_lost_node_lost_again_changes_nothing():
    assert decide_node(fold_node([node_registered(), node_lost()]), mark_lost(), now=T0) == []


def test_nodes_silent_for_longer_than_the_timeout_are_lost_in_sorted_order():
    last_seen = {"c1--n3": at(0), "c1--n1": at(10), "c1--n2": at(50), "c2--n1": at(5)}
    assert lost_nodes(last_seen, now=at(60), timeout=timedelta(seconds=30)) == ["c1--n1", "c1--n3", "c2--n1"]


def test_a_node_silent_for_exactly_the_timeout_is_still_alive():
    assert lost_nodes({"c1--n1": at(0)}, now=at(30), timeout=timedelta(seconds=30)) == []


def test_a_non_positive_timeout_is_a_programming_error():
    with pytest.raises(ValueError):
        lost_nodes({}, now=T0, timeout=timedelta(0))
