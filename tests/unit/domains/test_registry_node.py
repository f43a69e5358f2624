"""Node aggregate: registration, cordon / drain / uncordon, removal and illegal transitions."""

from __future__ import annotations

import pytest

from domains.errors import IllegalTransition, NotFound
from domains.registry import decide_node, fold_node
from schemas.fleet import NodeCordoned, NodeDrainRequested, NodeUncordoned
from tests.factories.registry import (
    T0,
    cordon,
    drain,
    heartbeat,
    mark_lost,
    node,
    node_cordoned,
    node_drain_requested,
    node_lost,
    node_registered,
    node_removed,
    node_uncordoned,
    uncordon,
)


def test_a_registered_node_starts_schedulable_with_unknown_health():
    state = fold_node([node_registered("n1")])
    assert state.registered and state.schedulable
    assert (state.cluster, state.spec, state.health) == ("c1", node("n1"), "unknown")


def test_cordoning_stops_new_work_on_the_node():
    then = decide_node(fold_node([node_registered()]), cordon(reason="bad fan"), now=T0)
    assert then == [NodeCordoned(cluster="c1", node="n1", reason="bad fan")]
    state = fold_node([node_registered(), *then])
    assert state.cordoned and not state.schedulable and state.cordon_reason == "bad fan"


def test_cordoning_a_cordoned_node_changes_nothing():
    assert decide_node(fold_node([node_registered(), node_cordoned()]), cordon(), now=T0) == []


def test_uncordoning_makes_the_node_schedulable_again():
    given = [node_registered(), node_cordoned()]
    then = decide_node(fold_node(given), uncordon(), now=T0)
    assert then == [NodeUncordoned(cluster="c1", node="n1")]
    assert fold_node([*given, *then]).schedulable


def test_uncordoning_a_node_that_is_not_cordoned_is_illegal():
    with pytest.raises(IllegalTransition) as raised:
        decide_node(fold_node([node_registered()]), uncordon(), now=T0)
    assert (raised.value.code, raised.value.field) == ("not_cordoned", "node")


def test_draining_cordons_then_asks_for_the_work_to_move():
    then = decide_node(fold_node([node_registered()]), drain(reason="kernel upgrade"), now=T0)
    assert [type(e) for e in then] == [NodeCordoned, NodeDrainRequested]
    assert all(e.reason == "kernel upgrade" for e in then)
    state = fold_node([node_registered(), *then])
    assert state.cordoned and state.draining and not state.schedulable


def test_draining_a_cordoned_node_only_requests_the_drain():
    then = decide_node(fold_node([node_registered(), node_cordoned()]), drain(), now=T0)
    assert [type(e) for e in then] == [NodeDrainRequested]


def test_draining_a_draining_node_changes_nothing():
    given = [node_registered(), node_cordoned(), node_drain_requested()]
    assert decide_node(fold_node(given), drain(), now=T0) == []


def test_uncordoning_ends_a_drain():
    state = fold_node([node_registered(), node_cordoned(), node_drain_requested(), node_uncordoned()])
    assert not state.draining and not state.cordoned and state.schedulable


def test_a_lost_node_is_not_schedulable_even_when_uncordoned():
    assert not fold_node([node_registered(), node_lost()]).schedulable


@pytest.mark.parametrize("command", [cordon(), uncordon(), drain(), heartbeat(), mark_lost()])
def test_every_command_for_a_removed_node_is_illegal(command):
    with pytest.raises(IllegalTransition) as raised:
        decide_node(fold_node([node_registered(), node_cordoned(), node_removed()]), command, now=T0)
    assert (raised.value.code, raised.value.field) == ("node_removed", "node")
    assert "removed" in raised.value.message


@pytest.mark.parametrize("command", [cordon(), uncordon(), drain(), heartbeat(), mark_lost()])
def test_every_command_for_a_node_never_registered_is_not_found(command):
    with pytest.raises(NotFound) as raised:
        decide_node(fold_node([]), command, now=T0)
    assert (raised.value.code, raised.value.field) == ("node_not_found", "node")


def test_a_node_registered_again_after_removal_starts_afresh():
    state = fold_node([node_registered(), node_cordoned(), node_lost(), node_removed(), node_registered(gpu_count=4)])
    assert state.registered and state.schedulable and state.health == "unknown"
    assert state.spec.gpu_count == 4


def test_a_command_decided_on_another_nodes_state_is_a_routing_bug():
    with pytest.raises(ValueError):
        decide_node(fold_node([node_registered("n2")]), cordon("n1"), now=T0)
