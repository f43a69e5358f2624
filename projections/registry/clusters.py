"""The clusters read model: identity, pools/platforms, labels, and node and GPU counts.

`ClusterOnboarded` creates the view; `NodeRegistered`/`NodeRemoved` keep its
node and GPU totals (the model remembers each node's GPU count so a removal
subtracts what was added). Filterable by region, backend, pool and label.
Platform-owned: every cluster lives under the tenant `_platform`.
"""

from __future__ import annotations

from dataclasses import dataclass

from projections.registry.base import ReadModel, label_values, updated
from projections.registry.store import IndexedStore, Page
from schemas import Envelope
from schemas import fleet as f


@dataclass(frozen=True, slots=True)
class ClusterView:
    name: str
    region: str
    backend: str
    pools: tuple[str, ...]
    platforms: tuple[str, ...]
    labels: dict[str, str]
    created_seq: int
    updated_seq: int
    nodes: int = 0
    gpus_total: int = 0


def onboarded(e: f.ClusterOnboarded, seq: int, nodes: int = 0, gpus: int = 0) -> ClusterView:
    platforms = sorted({p for pool in e.pools for p in pool.platforms})
    return ClusterView(
        name=e.name, region=e.region, backend=e.backend, pools=tuple(p.name for p in e.pools),
        platforms=tuple(platforms), labels=dict(e.labels), created_seq=seq, updated_seq=seq,
        nodes=nodes, gpus_total=gpus,
    )


def count_node(view: ClusterView, gpus: int, sign: int, seq: int) -> ClusterView:
    return updated(view, nodes=view.nodes + sign, gpus_total=view.gpus_total + sign * gpus, updated_seq=seq)


class ClustersModel(ReadModel):
    name = "registry.clusters"

    def __init__(self) -> None:
        super().__init__(IndexedStore(
            key=lambda v: v.name,
            indexes={
                "region": lambda v: (v.region,), "backend": lambda v: (v.backend,), "pool": lambda v: v.pools,
                "label": lambda v: label_values(v.labels),
            },
            sorts={"name": lambda v: ()},
        ))
        self._node_gpus: dict[str, int] = {}  # node id -> GPUs it added to its cluster

    def _onboarded(self, env: Envelope, seq: int) -> None:
        e: f.ClusterOnboarded = env.data  # type: ignore[assignment]
        old = self.store.get(e.name)  # nodes may be registered before a re-onboarding: keep the counts
        self.store.put(onboarded(e, seq, old.nodes if old else 0, old.gpus_total if old else 0))

    def _registered(self, env: Envelope, seq: int) -> None:
        e: f.NodeRegistered = env.data  # type: ignore[assignment]
        id = f.node_id(e.cluster, e.node.name)
        view = self.store.get(e.cluster)
        if view is None or id in self._node_gpus:
            return
        self._node_gpus[id] = e.node.gpu_count
        self.store.put(count_node(view, e.node.gpu_count, +1, seq))

    def _removed(self, env: Envelope, seq: int) -> None:
        e: f.NodeRemoved = env.data  # type: ignore[assignment]
        gpus = self._node_gpus.pop(f.node_id(e.cluster, e.node), None)
        view = self.store.get(e.cluster)
        if view is not None and gpus is not None:
            self.store.put(count_node(view, gpus, -1, seq))

    handlers = {f.ClusterOnboarded: _onboarded, f.NodeRegistered: _registered, f.NodeRemoved: _removed}

    def list(self, *, region: str | None = None, backend: str | None = None, pool: str | None = None,
             label: str | None = None, sort: str = "name", page_size: int = 100,
             cursor: str | None = None) -> Page[ClusterView]:
        filters = {"region": region, "backend": backend, "pool": pool, "label": label}
        return self._list(filters, sort, page_size, cursor)
