"""Replay is deterministic: the same history folds to the same state, the same decision to the same events."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from domains.errors import DomainError
from domains.registry import (
    decide_cluster,
    decide_node,
    fold_cluster,
    fold_node,
    parse_cluster_spec,
)
from tests.factories.registry import (
    T0,
    add_node,
    at,
    cordon,
    drain,
    fixture_text,
    heartbeat,
    mark_lost,
    node_registered,
    onboard,
    remove_node,
    uncordon,
)

NODE_COMMANDS = st.one_of(
    st.just(cordon()), st.just(uncordon()), st.just(drain()), st.just(mark_lost()),
    st.integers(min_value=0, max_value=100).map(lambda s: heartbeat(when=at(s))),
)


def test_the_same_cluster_history_folds_to_equal_states():
    spec = parse_cluster_spec(fixture_text("h100-two-pools.yaml"))
    history = decide_cluster(fold_cluster([]), onboard(spec), now=T0)
    assert fold_cluster(history) == fold_cluster(list(history))
    assert decide_cluster(fold_cluster([]), onboard(spec), now=T0) == history


def test_the_same_decision_on_the_same_state_gives_identical_events():
    state = fold_cluster(decide_cluster(fold_cluster([]), onboard(), now=T0))
    first = decide_cluster(state, add_node("n9"), now=T0)
    again = decide_cluster(state, add_node("n9"), now=at(3600))  # `now` does not leak into registry events
    assert [e.model_dump_json() for e in first] == [e.model_dump_json() for e in again]


def _run(commands) -> list:
    """Decide each command on the state so far; rejected commands leave no event behind."""
    history = [node_registered()]
    for command in commands:
        try:
            history += decide_node(fold_node(history), command, now=T0)
        except DomainError:
            pass
    return history


@settings(max_examples=200, deadline=None)
@given(st.lists(NODE_COMMANDS, max_size=25))
def test_any_node_history_replays_to_the_same_state_and_keeps_its_invariants(commands):
    history = _run(commands)
    state = fold_node(history)
    assert fold_node(list(history)) == state
    assert _run(commands) == history
    assert not state.draining or state.cordoned
    assert state.schedulable == (not state.cordoned and state.health != "lost")


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(["add", "remove"]), max_size=20), st.lists(st.sampled_from(["n1", "n2", "n3"]), min_size=20, max_size=20))
def test_cluster_membership_has_unique_names_whatever_the_command_order(ops, names):
    history = decide_cluster(fold_cluster([]), onboard(), now=T0)
    for op, name in zip(ops, names):
        command = add_node(name) if op == "add" else remove_node(name)
        try:
            history += decide_cluster(fold_cluster(history), command, now=T0)
        except DomainError:
            pass
    members = [n.name for n in fold_cluster(history).nodes]
    assert len(members) == len(set(members))
    assert fold_cluster(history) == fold_cluster(list(history))
