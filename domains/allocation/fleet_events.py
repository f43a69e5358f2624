"""How registry events change the fleet: nodes registered, removed, cordoned, drained, lost, healthy.

One singledispatch registration per event type (`apply_event(event, fleet, tenant)`);
the job events are registered in `job_events.py`, imported at the bottom so the
dispatcher always knows both. Unknown event types are ignored; events for nodes
the fleet does not know are facts about someone else's past and are ignored too.
"""

from __future__ import annotations

from functools import singledispatch
from typing import TYPE_CHECKING

from domains.allocation.errors import GpuConflict
from domains.allocation.model import Node
from schemas.base import Event
from schemas.fleet import (
    NodeCordoned,
    NodeDrainRequested,
    NodeHealthy,
    NodeLost,
    NodeRegistered,
    NodeRemoved,
    NodeUncordoned,
    node_id,
)

if TYPE_CHECKING:
    from domains.allocation.fleet import Fleet


@singledispatch
def apply_event(event: Event, fleet: Fleet, tenant: str) -> None:
    return None


def _capacity(fleet: Fleet, node: Node, sign: int) -> None:
    fleet.capacity[0] += sign * node.spec.gpu_count
    fleet.capacity[1] += sign * node.spec.cpu
    fleet.capacity[2] += sign * node.spec.memory_gb


@apply_event.register(NodeRegistered)
def _registered(event: NodeRegistered, fleet: Fleet, tenant: str) -> None:
    key = node_id(event.cluster, event.node.name)
    spec = event.node
    node = fleet.nodes.get(key)
    if node is None:
        node = Node(key, event.cluster, spec.name, len(fleet.by_ord), spec, list(range(spec.gpu_count)))
        fleet.nodes[key] = node
        fleet.by_ord.append(node)
    else:  # re-registration updates the inventory; GPUs in use must still exist
        held = sorted(i for indices in node.allocs.values() for i in indices)
        if held and held[-1] >= spec.gpu_count:
            raise GpuConflict(f"node {key} holds GPU {held[-1]} but would have only {spec.gpu_count}",
                              field="node.gpu_count")
        _capacity(fleet, node, -1)
        node.spec = spec
        node.free = sorted(set(range(spec.gpu_count)) - set(held))
    _capacity(fleet, node, 1)
    fleet.index.touch(node)


@apply_event.register(NodeRemoved)
def _removed(event: NodeRemoved, fleet: Fleet, tenant: str) -> None:
    node = fleet.nodes.pop(node_id(event.cluster, event.node), None)
    if node is not None:
        fleet.by_ord[node.ordinal] = None
        _capacity(fleet, node, -1)


def _flag(fleet: Fleet, cluster: str, name: str, **flags: bool) -> None:
    node = fleet.nodes.get(node_id(cluster, name))
    if node is not None:
        for flag, value in flags.items():
            setattr(node, flag, value)
        fleet.index.touch(node)


@apply_event.register(NodeCordoned)
def _cordoned(event: NodeCordoned, fleet: Fleet, tenant: str) -> None:
    _flag(fleet, event.cluster, event.node, cordoned=True)


@apply_event.register(NodeUncordoned)
def _uncordoned(event: NodeUncordoned, fleet: Fleet, tenant: str) -> None:
    _flag(fleet, event.cluster, event.node, cordoned=False, draining=False)


@apply_event.register(NodeDrainRequested)
def _draining(event: NodeDrainRequested, fleet: Fleet, tenant: str) -> None:
    _flag(fleet, event.cluster, event.node, draining=True)


@apply_event.register(NodeLost)
def _lost(event: NodeLost, fleet: Fleet, tenant: str) -> None:
    _flag(fleet, event.cluster, event.node, lost=True)


@apply_event.register(NodeHealthy)
def _healthy(event: NodeHealthy, fleet: Fleet, tenant: str) -> None:
    _flag(fleet, event.cluster, event.node, lost=False)


from domains.allocation import job_events  # noqa: F401  (registers the job handlers)
