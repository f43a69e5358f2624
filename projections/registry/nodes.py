"""The nodes read model: inventory, free/used GPUs, cordon/drain and health per node.

Node views change on fleet events (registered, removed, cordoned, uncordoned,
drain requested, healthy, lost) and on job events: `JobPlaced` takes the
placed GPU indices on each node, and the end of a placement (requeued or any
terminal state) gives them back. The model remembers which slots each job
holds, so a release frees exactly what was taken. `status` is derived:
lost > draining > cordoned > ready. The converters below are pure functions of
(view, event); `NodesModel` only routes events and keeps the indexes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from projections.registry.base import ReadModel, label_values, updated
from projections.registry.jobs import Slot, slots
from projections.registry.store import IndexedStore, Page
from schemas import Envelope
from schemas import fleet as f
from schemas import jobs as j

RELEASING = (j.JobRequeued, j.JobSucceeded, j.JobFailed, j.JobCancelled, j.JobPreempted)


@dataclass(frozen=True, slots=True)
class NodeView:
    id: str  # `<cluster>--<node>` (schemas.fleet.node_id)
    cluster: str
    name: str
    pool: str
    platform: str | None
    gpu_model: str | None
    gpus_total: int
    gpu_memory_gb: int
    nvlink_domain: str | None
    rack: str | None
    labels: dict[str, str]
    created_seq: int
    updated_seq: int
    used_gpu_indices: tuple[int, ...] = ()
    cordoned: bool = False
    draining: bool = False
    health: str = "unknown"  # unknown | healthy | lost
    health_reason: str | None = None
    last_heartbeat: datetime | None = None

    @property
    def used_gpus(self) -> int:
        return len(self.used_gpu_indices)

    @property
    def free_gpus(self) -> int:
        return max(self.gpus_total - self.used_gpus, 0)

    @property
    def status(self) -> str:
        if self.health == "lost":
            return "lost"
        return "draining" if self.draining else "cordoned" if self.cordoned else "ready"


def registered(e: f.NodeRegistered, seq: int) -> NodeView:
    n = e.node
    return NodeView(
        id=f.node_id(e.cluster, n.name), cluster=e.cluster, name=n.name, pool=n.pool, platform=n.platform,
        gpu_model=n.gpu_model, gpus_total=n.gpu_count, gpu_memory_gb=n.gpu_memory_gb,
        nvlink_domain=n.nvlink_domain, rack=n.rack, labels=dict(n.labels), created_seq=seq, updated_seq=seq,
    )


def evolve(view: NodeView, e: f.Event, seq: int) -> NodeView:
    """A fleet event on an existing node (NodeRegistered and NodeRemoved are handled by the model)."""
    if isinstance(e, f.NodeCordoned):
        return updated(view, cordoned=True, updated_seq=seq)
    if isinstance(e, f.NodeUncordoned):
        return updated(view, cordoned=False, draining=False, updated_seq=seq)
    if isinstance(e, f.NodeDrainRequested):
        return updated(view, cordoned=True, draining=True, updated_seq=seq)
    if isinstance(e, f.NodeHealthy):
        return updated(view, health="healthy", health_reason=None, last_heartbeat=e.at, updated_seq=seq)
    if isinstance(e, f.NodeLost):
        return updated(view, health="lost", health_reason=str(e.reason), updated_seq=seq)
    return view


def take(view: NodeView, indices: tuple[int, ...], seq: int) -> NodeView:
    return updated(view, used_gpu_indices=tuple(sorted({*view.used_gpu_indices, *indices})), updated_seq=seq)


def give_back(view: NodeView, indices: tuple[int, ...], seq: int) -> NodeView:
    left = tuple(i for i in view.used_gpu_indices if i not in indices)
    return updated(view, used_gpu_indices=left, updated_seq=seq)


class NodesModel(ReadModel):
    name = "registry.nodes"

    def __init__(self) -> None:
        super().__init__(IndexedStore(
            key=lambda v: v.id,
            indexes={
                "cluster": lambda v: (v.cluster,), "pool": lambda v: (v.pool,), "status": lambda v: (v.status,),
                "gpu_model": lambda v: (v.gpu_model,), "label": lambda v: label_values(v.labels),
            },
            sorts={"id": lambda v: (), "free_gpus": lambda v: (-v.free_gpus,)},
        ))
        self._holding: dict[str, tuple[Slot, ...]] = {}  # job id -> the slots it holds

    def _node(self, env: Envelope, seq: int) -> None:
        e = env.data
        id = f.node_id(e.cluster, e.node.name if isinstance(e, f.NodeRegistered) else e.node)  # type: ignore[attr-defined]
        if isinstance(e, f.NodeRegistered):
            self.store.put(registered(e, seq))
        elif isinstance(e, f.NodeRemoved):
            self.store.delete(id)
        elif (view := self.store.get(id)) is not None:
            self.store.put(evolve(view, e, seq))

    def _placed(self, env: Envelope, seq: int) -> None:
        e: j.JobPlaced = env.data  # type: ignore[assignment]
        self._release(e.job_id, seq)  # a job holds one placement at a time
        self._holding[e.job_id] = slots(e.placements)
        self._each(self._holding[e.job_id], seq, take)

    def _ended(self, env: Envelope, seq: int) -> None:
        self._release(env.data.job_id, seq)  # type: ignore[attr-defined]

    def _release(self, job_id: str, seq: int) -> None:
        held = self._holding.pop(job_id, None)
        if held:
            self._each(held, seq, give_back)

    def _each(self, held: tuple[Slot, ...], seq: int, change) -> None:
        for slot in held:
            view = self.store.get(f.node_id(slot.cluster, slot.node))
            if view is not None:
                self.store.put(change(view, slot.gpu_indices, seq))

    handlers = {
        **dict.fromkeys((f.NodeRegistered, f.NodeRemoved, f.NodeCordoned, f.NodeUncordoned, f.NodeDrainRequested,
                         f.NodeHealthy, f.NodeLost), _node),
        j.JobPlaced: _placed, **dict.fromkeys(RELEASING, _ended),
    }

    def list(self, *, cluster: str | None = None, pool: str | None = None, status: str | None = None,
             gpu_model: str | None = None, label: str | None = None, sort: str = "id", page_size: int = 100,
             cursor: str | None = None) -> Page[NodeView]:
        filters = {"cluster": cluster, "pool": pool, "status": status, "gpu_model": gpu_model, "label": label}
        return self._list(filters, sort, page_size, cursor)
