"""Registry decisions: `decide_cluster` and `decide_node`, `(state, command, *, now) -> list[Event]`.

Cluster aggregate:
- OnboardCluster emits ClusterOnboarded + one NodeRegistered per node, as one
  decision (one atomic batch). The spec's cross-field rules are re-checked
  (a command may come from anywhere, not only from a dry-run) and break with
  `InvalidSpec` listing every problem under `spec.`. Onboarding a cluster that
  exists returns [] when the spec describes exactly its current state (a
  resent or redelivered onboarding is a no-op) and raises Conflict otherwise.
- AddNode: the cluster must exist, the name must be new (else Conflict, even
  for an identical spec), and the node must fit the cluster's pools/platforms
  and GPU rules (else InvalidSpec under `node.`). RemoveNode: unknown -> NotFound.

Node aggregate (rules chosen where the issue is silent):
- Commands for a node never registered -> NotFound; for a removed node ->
  IllegalTransition(`node_removed`).
- Cordon and drain move towards safety and are idempotent: cordoning a
  cordoned node, draining a draining node return []. Uncordon widens where
  work may land, so it must be deliberate: uncordoning a node that is not
  cordoned is IllegalTransition(`not_cordoned`). Uncordon also ends a drain.
  Drain emits NodeCordoned (unless already cordoned) then NodeDrainRequested.
- Heartbeats: only the first heartbeat, or the first after the node was
  lost, emits NodeHealthy; every other heartbeat emits nothing (the handler
  keeps last-seen times in memory for `health.lost_nodes`). A heartbeat not
  newer than the last NodeHealthy is stale and ignored. MarkNodeLost emits
  NodeLost unless the node is already lost ([]: the checker may fire again).
"""

from __future__ import annotations

from datetime import datetime

from domains.errors import DomainError
from domains.registry import errors
from domains.registry.problems import Problem
from domains.registry.rules import node_problems, spec_problems
from domains.registry.state import ClusterState, NodeState
from schemas.base import Command, Event
from schemas.fleet import (
    AddNode,
    ClusterOnboarded,
    ClusterSpec,
    CordonNode,
    DrainNode,
    MarkNodeLost,
    NodeCordoned,
    NodeDrainRequested,
    NodeHealthy,
    NodeLost,
    NodeRegistered,
    NodeRemoved,
    NodeUncordoned,
    OnboardCluster,
    RecordHeartbeat,
    RemoveNode,
    UncordonNode,
)
from schemas.values import WaitReason


def decide_cluster(state: ClusterState, command: Command, *, now: datetime) -> list[Event]:
    match command:
        case OnboardCluster(spec=spec):
            return _onboard(state, spec)
        case AddNode(cluster=cluster, node=node):
            if not state.onboarded:
                raise errors.cluster_not_found(cluster)
            if state.node(node.name) is not None:
                raise errors.node_exists(cluster, node.name)
            pools = {p.name: set(p.platforms) for p in state.pools}
            if problems := node_problems(node.model_dump(), pools, "node"):
                raise errors.InvalidSpec(problems)
            return [NodeRegistered(cluster=cluster, node=node)]
        case RemoveNode(cluster=cluster, node=node):
            if not state.onboarded:
                raise errors.cluster_not_found(cluster)
            if state.node(node) is None:
                raise errors.node_not_found(cluster, node)
            return [NodeRemoved(cluster=cluster, node=node)]
    raise TypeError(f"not a cluster command: {type(command).__name__}")


def _onboard(state: ClusterState, spec: ClusterSpec) -> list[Event]:
    if problems := spec_problems(spec.model_dump()):
        raise errors.InvalidSpec(Problem(f"spec.{p.path}", p.message) for p in problems)
    if state.onboarded:
        if _describes(spec, state):
            return []
        raise errors.cluster_exists(spec.name)
    onboarded = ClusterOnboarded(
        name=spec.name, region=spec.region, backend=spec.backend, pools=spec.pools, labels=spec.labels
    )
    return [onboarded, *(NodeRegistered(cluster=spec.name, node=node) for node in spec.nodes)]


def _describes(spec: ClusterSpec, state: ClusterState) -> bool:
    return (
        (spec.region, spec.backend, spec.labels, tuple(spec.pools))
        == (state.region, state.backend, dict(state.labels), state.pools)
        and len(spec.nodes) == len(state.nodes)
        and {n.name: n for n in spec.nodes} == {n.name: n for n in state.nodes}
    )


_ACTIONS = {CordonNode: "cordon", UncordonNode: "uncordon", DrainNode: "drain",
            RecordHeartbeat: "record a heartbeat for", MarkNodeLost: "mark lost"}


def decide_node(state: NodeState, command: Command, *, now: datetime) -> list[Event]:
    action = _ACTIONS.get(type(command))
    if action is None:
        raise TypeError(f"not a node command: {type(command).__name__}")
    cluster, node = command.cluster, command.node
    if state.spec is None:
        raise errors.node_not_found(cluster, node)
    if (state.cluster, state.spec.name) != (cluster, node):
        raise ValueError(f"command for {cluster}/{node} decided on node {state.cluster}/{state.spec.name}")
    if state.removed:
        raise errors.node_removed(cluster, node, action)
    match command:
        case CordonNode(reason=reason):
            return [] if state.cordoned else [NodeCordoned(cluster=cluster, node=node, reason=reason)]
        case UncordonNode():
            if not state.cordoned:
                raise errors.not_cordoned(cluster, node)
            return [NodeUncordoned(cluster=cluster, node=node)]
        case DrainNode(reason=reason):
            if state.draining:
                return []
            cordon = [] if state.cordoned else [NodeCordoned(cluster=cluster, node=node, reason=reason)]
            return [*cordon, NodeDrainRequested(cluster=cluster, node=node, reason=reason)]
        case RecordHeartbeat(at=at):
            if at.tzinfo is None:
                raise DomainError("heartbeat time must be timezone-aware", field="at", code="naive_datetime")
            stale = state.last_heartbeat is not None and at <= state.last_heartbeat
            if state.health == "healthy" or stale:
                return []
            return [NodeHealthy(cluster=cluster, node=node, at=at)]
        case MarkNodeLost(reason=reason):
            if state.health == "lost":
                return []
            details: dict[str, str | int | float] = {"reason": reason}
            if state.last_heartbeat is not None:
                details["last_healthy_at"] = state.last_heartbeat.isoformat()
            return [NodeLost(cluster=cluster, node=node, reason=WaitReason(code="node_lost", details=details))]
    raise AssertionError("unreachable")  # every type in _ACTIONS has a case above
