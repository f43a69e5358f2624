"""The fleet: clusters, pools/platforms and nodes with their GPU inventory (registry domain).

Platform-owned: every fleet message travels under the tenant `_platform`.
Aggregates: `cluster` (id = cluster name) holds the cluster's identity, pools
and node membership; `node` (id = `<cluster>--<node>`) holds one node's
schedulability and health, so heartbeats and cordons of different nodes never
contend on one aggregate.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from schemas.base import Command, Event
from schemas.values import Labels, NonNegative, Token, Value, WaitReason

Backend = Literal["local", "simulator", "kubernetes"]


class PoolSpec(Value):
    name: Token
    platforms: list[Token] = Field(default_factory=list)
    labels: Labels = Field(default_factory=dict)


class NodeSpec(Value):
    name: Token
    pool: Token = "default"
    platform: Token | None = None
    gpu_model: str | None = None  # e.g. "H100"; None for CPU-only nodes
    gpu_count: NonNegative = 0
    gpu_memory_gb: NonNegative = 0  # per GPU
    nvlink_domain: Token | None = None  # GPUs sharing a domain talk over NVLink
    rack: Token | None = None
    cpu: float = Field(default=0, ge=0)
    memory_gb: float = Field(default=0, ge=0)
    labels: Labels = Field(default_factory=dict)


class ClusterSpec(Value):
    name: Token
    region: Token = "local"
    backend: Backend = "local"
    pools: list[PoolSpec] = Field(default_factory=lambda: [PoolSpec(name="default")])
    nodes: list[NodeSpec] = Field(default_factory=list)
    labels: Labels = Field(default_factory=dict)


def node_id(cluster: str, node: str) -> str:
    """The `node` aggregate id: unique across clusters, still one subject token."""
    return f"{cluster}--{node}"


# --- commands ---------------------------------------------------------------

class OnboardCluster(Command):
    TYPE = "tessera.registry.onboard_cluster.v1"
    spec: ClusterSpec


class AddNode(Command):
    TYPE = "tessera.registry.add_node.v1"
    cluster: Token
    node: NodeSpec


class RemoveNode(Command):
    TYPE = "tessera.registry.remove_node.v1"
    cluster: Token
    node: Token


class CordonNode(Command):
    TYPE = "tessera.registry.cordon_node.v1"
    cluster: Token
    node: Token
    reason: str = ""


class UncordonNode(Command):
    TYPE = "tessera.registry.uncordon_node.v1"
    cluster: Token
    node: Token


class DrainNode(Command):
    """Cordon, and ask the scheduler to move or stop what runs there."""

    TYPE = "tessera.registry.drain_node.v1"
    cluster: Token
    node: Token
    reason: str = ""


class RecordHeartbeat(Command):
    TYPE = "tessera.registry.record_heartbeat.v1"
    cluster: Token
    node: Token
    at: datetime


class MarkNodeLost(Command):
    TYPE = "tessera.registry.mark_node_lost.v1"
    cluster: Token
    node: Token
    reason: str = "heartbeat timeout"


# --- events -----------------------------------------------------------------

class ClusterOnboarded(Event):
    TYPE = "tessera.registry.cluster_onboarded.v1"
    name: Token
    region: Token
    backend: Backend
    pools: list[PoolSpec]
    labels: Labels = Field(default_factory=dict)


class NodeRegistered(Event):
    TYPE = "tessera.registry.node_registered.v1"
    cluster: Token
    node: NodeSpec


class NodeRemoved(Event):
    TYPE = "tessera.registry.node_removed.v1"
    cluster: Token
    node: Token


class NodeCordoned(Event):
    TYPE = "tessera.registry.node_cordoned.v1"
    cluster: Token
    node: Token
    reason: str = ""


class NodeUncordoned(Event):
    TYPE = "tessera.registry.node_uncordoned.v1"
    cluster: Token
    node: Token


class NodeDrainRequested(Event):
    TYPE = "tessera.registry.node_drain_requested.v1"
    cluster: Token
    node: Token
    reason: str = ""


class NodeHealthy(Event):
    """First heartbeat, or a heartbeat after the node was lost (not every heartbeat: that would flood the log)."""

    TYPE = "tessera.registry.node_healthy.v1"
    cluster: Token
    node: Token
    at: datetime


class NodeLost(Event):
    TYPE = "tessera.registry.node_lost.v1"
    cluster: Token
    node: Token
    reason: WaitReason
