"""The heartbeat checker's view: which healthy nodes went silent too long, and the MarkNodeLost ids it sends."""

from __future__ import annotations

from datetime import timedelta

from bus.control.health import HeartbeatWatch
from schemas import fleet as f
from tests.factories.projections import History, at, node_lost, node_registered

TIMEOUT = timedelta(seconds=30)


def healthy(node: str, seconds: float) -> f.NodeHealthy:
    return f.NodeHealthy(cluster="c1", node=node, at=at(seconds))


def watching(h: History, listening_since: float = 0) -> HeartbeatWatch:
    watch = HeartbeatWatch(TIMEOUT, at(listening_since))
    for env, _ in h.events:
        watch.apply(env)
    return watch


def due(watch: HeartbeatWatch, seconds: float) -> list[str]:
    return [node for node, _, _ in watch.due(at(seconds))]


def fleet(*nodes: str) -> History:
    h = History()
    for node in nodes:
        h.fleet(node_registered(node))
        h.fleet(healthy(node, 0), at_s=0)
    return h


def test_a_healthy_node_silent_for_longer_than_the_timeout_is_due_and_one_that_beats_is_not():
    watch = watching(fleet("n1", "n2"))
    watch.heartbeat("c1--n1", at(25))
    assert due(watch, 30) == [] and due(watch, 30.5) == ["c1--n2"]
    assert due(watch, 55) == ["c1--n2"] and due(watch, 55.5) == ["c1--n1", "c1--n2"]


def test_the_command_names_the_node_and_says_why():
    [(_, _, command)] = watching(fleet("n1")).due(at(31))
    assert (command.cluster, command.node, command.reason) == ("c1", "n1", "no heartbeat for more than 30s")


def test_a_node_that_never_reported_healthy_is_never_marked_lost():
    h = History()
    h.fleet(node_registered("quiet"))
    assert due(watching(h), 10_000) == []


def test_a_restarted_checker_gives_every_node_a_full_timeout_from_when_it_started_listening():
    watch = watching(fleet("n1", "n2"), listening_since=3600)  # the log says healthy an hour ago
    watch.heartbeat("c1--n1", at(3610))
    assert due(watch, 3620) == [] and due(watch, 3630.5) == ["c1--n2"]


def test_lost_removed_and_reregistered_nodes_are_no_longer_watched():
    h = fleet("lost", "gone", "again", "kept")
    h.fleet(node_lost("lost"))
    h.fleet(f.NodeRemoved(cluster="c1", node="gone"))
    h.fleet(node_registered("again"))
    assert due(watching(h), 100) == ["c1--kept"]


def test_ids_are_the_same_for_one_healthy_period_in_any_checker_and_new_once_the_node_came_back():
    h = fleet("n1")
    first = watching(h).due(at(40))[0][1]
    other_process = watching(h, listening_since=5).due(at(40))[0][1]
    h.fleet(node_lost("n1"))
    h.fleet(healthy("n1", 50), at_s=50)
    assert watching(h).due(at(70)) == []  # the new period started at 50
    again = watching(h).due(at(81))[0][1]
    assert first == other_process and again != first


def test_a_node_already_marked_in_this_period_is_not_due_again():
    watch = watching(fleet("n1"))
    node, _, _ = watch.due(at(40))[0]
    watch.marked[node] = watch.watched[node].epoch
    assert due(watch, 50) == []
