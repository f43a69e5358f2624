"""Registry domain: clusters onboarded from a spec, nodes, cordon/drain and health.

Modules:
    spec.py      parse / validate (dry-run) a cluster spec document, every problem at once
    document.py  text -> data with syntax problems and line numbers (YAML or JSON)
    rules.py     cross-field rules (pools, platforms, unique names, GPU inventory)
    problems.py  `Problem(path, message, line)`
    summary.py   the dry-run summary (nodes, GPUs per model, pools)
    state.py     `ClusterState`, `NodeState`, `evolve_cluster`, `evolve_node`
    decide.py    `decide_cluster`, `decide_node` (the rules are in its docstring)
    health.py    `lost_nodes`: which nodes missed their heartbeat timeout
    routing.py   which aggregate decides a command; node mirroring of cluster events
    errors.py    InvalidSpec and the registry's NotFound/Conflict/IllegalTransition

Two aggregates, both under the platform tenant: `cluster` (id = cluster name:
identity, pools, node membership) and `node` (id = `node_id(cluster, node)`:
schedulability and health), so heartbeats and cordons of different nodes never
contend on one aggregate's version.

Where a node's state starts (decided here): NodeRegistered and NodeRemoved are
decided on the cluster aggregate only, since membership and name uniqueness
live there and onboarding must be one atomic batch. `evolve_node` accepts both
events, and the handler mirrors each onto the node aggregate
(`routing.node_mirror`, event id derived from the cluster event's id), so a
node aggregate's history begins with its NodeRegistered. No decision emits
events for two aggregates.
"""

from domains.registry.decide import decide_cluster, decide_node
from domains.registry.errors import InvalidSpec
from domains.registry.health import lost_nodes
from domains.registry.problems import Problem
from domains.registry.routing import CLUSTER, NODE, node_mirror, target
from domains.registry.spec import dry_run, parse_cluster_spec, validate_cluster_spec
from domains.registry.state import (
    ClusterState,
    NodeState,
    evolve_cluster,
    evolve_node,
    fold_cluster,
    fold_node,
)
from domains.registry.summary import DryRun, PoolSummary, SpecSummary

__all__ = [
    "CLUSTER", "NODE", "ClusterState", "DryRun", "InvalidSpec", "NodeState", "PoolSummary", "Problem",
    "SpecSummary", "decide_cluster", "decide_node", "dry_run", "evolve_cluster", "evolve_node",
    "fold_cluster", "fold_node", "lost_nodes", "node_mirror", "parse_cluster_spec", "target",
    "validate_cluster_spec",
]
