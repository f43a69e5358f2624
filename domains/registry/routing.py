"""Which aggregate a registry command goes to, and which node aggregate mirrors a cluster event.

Aggregates (platform tenant): `cluster` (id = cluster name) and `node`
(id = `schemas.fleet.node_id(cluster, node)`). NodeRegistered and NodeRemoved
are decided on the cluster aggregate; the handler (bus/, later) appends the same
event to the node aggregate named by `node_mirror`, with an id derived from the
cluster event's id, so the node's own stream starts with its registration.
"""

from __future__ import annotations

from schemas.base import Command, Event
from schemas.fleet import (
    AddNode,
    CordonNode,
    DrainNode,
    MarkNodeLost,
    NodeRegistered,
    NodeRemoved,
    OnboardCluster,
    RecordHeartbeat,
    RemoveNode,
    UncordonNode,
    node_id,
)

CLUSTER = "cluster"
NODE = "node"

_NODE_COMMANDS = (CordonNode, UncordonNode, DrainNode, RecordHeartbeat, MarkNodeLost)


def target(command: Command) -> tuple[str, str]:
    """(aggregate, aggregate id) that decides `command`."""
    if isinstance(command, OnboardCluster):
        return CLUSTER, command.spec.name
    if isinstance(command, (AddNode, RemoveNode)):
        return CLUSTER, command.cluster
    if isinstance(command, _NODE_COMMANDS):
        return NODE, node_id(command.cluster, command.node)
    raise TypeError(f"not a registry command: {type(command).__name__}")


def node_mirror(event: Event) -> str | None:
    """The node aggregate id a cluster event must also be applied to, or None."""
    if isinstance(event, NodeRegistered):
        return node_id(event.cluster, event.node.name)
    if isinstance(event, NodeRemoved):
        return node_id(event.cluster, event.node)
    return None
