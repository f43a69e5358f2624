"""Registry event, command and spec factories for given/when/then tests.

Defaults describe one cluster `c1` with a `train` pool (platform `h100-sxm`)
and 8x H100 80GB nodes; override only what a test is about.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

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
    NodeSpec,
    NodeUncordoned,
    OnboardCluster,
    PoolSpec,
    RecordHeartbeat,
    RemoveNode,
    UncordonNode,
)
from schemas.values import WaitReason

T0 = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
CLUSTER = "c1"
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "clusters"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def fixture_text(name: str) -> str:
    return (FIXTURES / name).read_text()


def pool(name: str = "train", platforms: tuple[str, ...] = ("h100-sxm",)) -> PoolSpec:
    return PoolSpec(name=name, platforms=list(platforms))


def node(name: str = "n1", **fields: Any) -> NodeSpec:
    defaults = {"pool": "train", "platform": "h100-sxm", "gpu_model": "H100", "gpu_count": 8,
                "gpu_memory_gb": 80, "nvlink_domain": "nvl-a", "rack": "rack-a"}
    return NodeSpec(name=name, **{**defaults, **fields})


def cluster_spec(*nodes: NodeSpec, name: str = CLUSTER, pools: tuple[PoolSpec, ...] | None = None) -> ClusterSpec:
    return ClusterSpec(name=name, region="eu-1", backend="simulator",
                       pools=list(pools or (pool(),)), nodes=list(nodes))


def spec_dict(**overrides: Any) -> dict[str, Any]:
    """A valid spec as plain data (what a YAML document loads to)."""
    return {**cluster_spec(node("n1"), node("n2")).model_dump(), **overrides}


# --- events -----------------------------------------------------------------

def cluster_onboarded(name: str = CLUSTER, pools: tuple[PoolSpec, ...] | None = None) -> ClusterOnboarded:
    return ClusterOnboarded(name=name, region="eu-1", backend="simulator", pools=list(pools or (pool(),)))


def node_registered(name: str = "n1", cluster: str = CLUSTER, **fields: Any) -> NodeRegistered:
    return NodeRegistered(cluster=cluster, node=node(name, **fields))


def node_removed(name: str = "n1", cluster: str = CLUSTER) -> NodeRemoved:
    return NodeRemoved(cluster=cluster, node=name)


def node_cordoned(name: str = "n1", reason: str = "maintenance") -> NodeCordoned:
    return NodeCordoned(cluster=CLUSTER, node=name, reason=reason)


def node_uncordoned(name: str = "n1") -> NodeUncordoned:
    return NodeUncordoned(cluster=CLUSTER, node=name)


def node_drain_requested(name: str = "n1", reason: str = "maintenance") -> NodeDrainRequested:
    return NodeDrainRequested(cluster=CLUSTER, node=name, reason=reason)


def node_healthy(name: str = "n1", when: datetime = T0) -> NodeHealthy:
    return NodeHealthy(cluster=CLUSTER, node=name, at=when)


def node_lost(name: str = "n1") -> NodeLost:
    return NodeLost(cluster=CLUSTER, node=name, reason=WaitReason(code="node_lost"))


# --- commands ---------------------------------------------------------------

def onboard(spec: ClusterSpec | None = None) -> OnboardCluster:
    return OnboardCluster(spec=spec or cluster_spec(node("n1"), node("n2")))


def add_node(name: str = "n3", **fields: Any) -> AddNode:
    return AddNode(cluster=CLUSTER, node=node(name, **fields))


def remove_node(name: str = "n1") -> RemoveNode:
    return RemoveNode(cluster=CLUSTER, node=name)


def cordon(name: str = "n1", reason: str = "maintenance") -> CordonNode:
    return CordonNode(cluster=CLUSTER, node=name, reason=reason)


def uncordon(name: str = "n1") -> UncordonNode:
    return UncordonNode(cluster=CLUSTER, node=name)


def drain(name: str = "n1", reason: str = "maintenance") -> DrainNode:
    return DrainNode(cluster=CLUSTER, node=name, reason=reason)


def heartbeat(name: str = "n1", when: datetime = T0) -> RecordHeartbeat:
    return RecordHeartbeat(cluster=CLUSTER, node=name, at=when)


def mark_lost(name: str = "n1") -> MarkNodeLost:
    return MarkNodeLost(cluster=CLUSTER, node=name)
