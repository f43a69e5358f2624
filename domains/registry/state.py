"""Registry state: the `cluster` and `node` aggregates, rebuilt by folding their events.

Both states are immutable values; `evolve_*` returns a new one per event (one
`singledispatch` registration per event type) and ignores events that do not
concern its aggregate, so folding the same history always yields an equal state.

- `ClusterState`: identity (name, region, backend, labels), pools, and the
  node specs currently registered, in registration order.
- `NodeState`: the node's spec and cluster, removed?, cordoned (with reason),
  draining, health (`unknown` until the first NodeHealthy, `healthy`, `lost`)
  and `last_heartbeat` = the time of the last NodeHealthy (routine heartbeats
  are not events, see `decide.py`). A NodeRegistered starts the node afresh,
  so a node removed and added again comes back uncordoned with unknown health.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from functools import singledispatch
from typing import Literal

from schemas.base import Event
from schemas.fleet import (
    ClusterOnboarded,
    NodeCordoned,
    NodeDrainRequested,
    NodeHealthy,
    NodeLost,
    NodeRegistered,
    NodeRemoved,
    NodeSpec,
    NodeUncordoned,
    PoolSpec,
)

Health = Literal["unknown", "healthy", "lost"]


@dataclass(frozen=True)
class ClusterState:
    name: str | None = None  # None: not onboarded
    region: str = ""
    backend: str = ""
    labels: tuple[tuple[str, str], ...] = ()
    pools: tuple[PoolSpec, ...] = ()
    nodes: tuple[NodeSpec, ...] = ()

    @property
    def onboarded(self) -> bool:
        return self.name is not None

    def node(self, name: str) -> NodeSpec | None:
        return next((n for n in self.nodes if n.name == name), None)

    def pool(self, name: str) -> PoolSpec | None:
        return next((p for p in self.pools if p.name == name), None)


@dataclass(frozen=True)
class NodeState:
    cluster: str | None = None
    spec: NodeSpec | None = None  # None: never registered
    removed: bool = False
    cordoned: bool = False
    cordon_reason: str = ""
    draining: bool = False
    health: Health = "unknown"
    last_heartbeat: datetime | None = None

    @property
    def registered(self) -> bool:
        return self.spec is not None and not self.removed

    @property
    def schedulable(self) -> bool:
        """New work may be placed here: registered, not cordoned or draining, not lost (unknown is fine)."""
        return self.registered and not self.cordoned and not self.draining and self.health != "lost"


def evolve_cluster(state: ClusterState, event: Event) -> ClusterState:
    return _cluster(event, state)


def evolve_node(state: NodeState, event: Event) -> NodeState:
    return _node(event, state)


# singledispatch picks the handler by its first argument, hence (event, state) below.
@singledispatch
def _cluster(event: Event, state: ClusterState) -> ClusterState:
    return state  # not a cluster event


@_cluster.register
def _(event: ClusterOnboarded, state: ClusterState) -> ClusterState:
    return ClusterState(event.name, event.region, event.backend, tuple(sorted(event.labels.items())), tuple(event.pools))


@_cluster.register
def _(event: NodeRegistered, state: ClusterState) -> ClusterState:
    return replace(state, nodes=state.nodes + (event.node,))


@_cluster.register
def _(event: NodeRemoved, state: ClusterState) -> ClusterState:
    return replace(state, nodes=tuple(n for n in state.nodes if n.name != event.node))


@singledispatch
def _node(event: Event, state: NodeState) -> NodeState:
    return state  # not a node event


@_node.register
def _(event: NodeRegistered, state: NodeState) -> NodeState:
    return NodeState(cluster=event.cluster, spec=event.node)


@_node.register
def _(event: NodeRemoved, state: NodeState) -> NodeState:
    return replace(state, removed=True)


@_node.register
def _(event: NodeCordoned, state: NodeState) -> NodeState:
    return replace(state, cordoned=True, cordon_reason=event.reason)


@_node.register
def _(event: NodeUncordoned, state: NodeState) -> NodeState:
    return replace(state, cordoned=False, cordon_reason="", draining=False)


@_node.register
def _(event: NodeDrainRequested, state: NodeState) -> NodeState:
    return replace(state, cordoned=True, draining=True)


@_node.register
def _(event: NodeHealthy, state: NodeState) -> NodeState:
    return replace(state, health="healthy", last_heartbeat=event.at)


@_node.register
def _(event: NodeLost, state: NodeState) -> NodeState:
    return replace(state, health="lost")


def fold_cluster(events: Iterable[Event], state: ClusterState = ClusterState()) -> ClusterState:
    for event in events:
        state = evolve_cluster(state, event)
    return state


def fold_node(events: Iterable[Event], state: NodeState = NodeState()) -> NodeState:
    for event in events:
        state = evolve_node(state, event)
    return state
