"""Registry read models: clusters, nodes, jobs, workflows, deployments; in memory, for the gateway's list and get.

Each model folds `EVT` in stream order (pure converters + an indexed store),
tracks the last applied sequence (a redelivered or replayed event is a no-op)
and answers `list(filters..., sort, page_size, cursor) -> Page(items,
next_cursor)` and `get(id)` in O(log n + page) at a million entities.

Shared by gateway replicas: every replica builds its own `Registry` and keeps
it current by following `EVT` from its snapshot position (bus.read.follow via
projections.runner); determinism of the fold makes the replicas agree, and
`state_hash()` proves it. A JetStream-KV snapshot (so a replica starts from a
stored position instead of sequence 1) can come later behind the same API.
"""

from __future__ import annotations

import hashlib

from projections.registry.clusters import ClustersModel, ClusterView
from projections.registry.deployments import DeploymentsModel, DeploymentView
from projections.registry.jobs import JobsModel, JobView, Slot
from projections.registry.nodes import NodesModel, NodeView
from projections.registry.paging import InvalidQuery, Page
from projections.registry.workflows import TaskView, WorkflowsModel, WorkflowView
from projections.tracking import Batch
from schemas import Envelope


class Registry:
    """The models fed as one projection (one position, one pass over the log)."""

    name = "registry"
    aggregates = frozenset({"cluster", "node", "job", "workflow", "deployment"})  # what the runner decodes for it

    def __init__(self) -> None:
        self.clusters = ClustersModel()
        self.nodes = NodesModel()
        self.jobs = JobsModel()
        self.workflows = WorkflowsModel()
        self.deployments = DeploymentsModel()
        self.models = (self.clusters, self.nodes, self.jobs, self.workflows, self.deployments)

    def reset(self) -> None:
        """Empty models at position 0 (a rebuild from zero follows)."""
        self.__init__()  # type: ignore[misc]

    def position(self) -> int:
        return min(m.position() for m in self.models)

    def apply(self, env: Envelope, seq: int) -> bool:
        return any([m.apply(env, seq) for m in self.models])  # noqa: C419 - every model must see it

    def apply_batch(self, batch: Batch) -> int:
        """The models apply the batch one after the other (they never read each other): same result as `apply` each."""
        return max(m.apply_batch(batch) for m in self.models)

    def bulk(self, on: bool) -> None:
        """A rebuild or long catch-up starts (True) or ends (False): indexes are built once at the end."""
        for m in self.models:
            m.bulk(on)

    def state_hash(self) -> str:
        return hashlib.sha256("".join(m.state_hash() for m in self.models).encode()).hexdigest()


__all__ = [
    "ClusterView", "ClustersModel", "DeploymentView", "DeploymentsModel", "InvalidQuery", "JobView", "JobsModel",
    "NodeView", "NodesModel", "Page",
    "Registry", "Slot", "TaskView", "WorkflowView", "WorkflowsModel",
]
