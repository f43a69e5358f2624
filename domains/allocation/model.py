"""The engine's working records: a node's free GPU indices, a running job, a queued job.

These are plain slotted dataclasses, not pydantic models: the placement kernel
touches them hundreds of thousands of times per pass and validation there would
cost more than the placement itself. They are built only from validated
events/specs. `Node` and `Running` are mutated only by `Fleet` (see fleet.py for
why); `QueuedJob` is immutable.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from domains.allocation.constraints import Shape, shape_of
from schemas.fleet import NodeSpec
from schemas.jobs import JobSpec
from schemas.values import WaitReason

DEFAULT_TENANT = "default"


@dataclass(slots=True)
class Node:
    key: str  # schemas.fleet.node_id(cluster, name)
    cluster: str
    name: str
    ordinal: int  # registration order: the deterministic tie-breaker
    spec: NodeSpec
    free: list[int]  # free GPU indices, ascending; the lowest are handed out first
    allocs: dict[str, tuple[int, ...]] = field(default_factory=dict)  # job id -> indices held here
    cordoned: bool = False
    draining: bool = False
    lost: bool = False
    version: int = 0  # bumped on every change; stale index entries are recognised by it

    @property
    def model(self) -> str | None:
        return self.spec.gpu_model if self.spec.gpu_count else None

    @property
    def schedulable(self) -> bool:
        return not (self.cordoned or self.draining or self.lost)

    def copy(self) -> Node:
        return Node(self.key, self.cluster, self.name, self.ordinal, self.spec, list(self.free),
                    dict(self.allocs), self.cordoned, self.draining, self.lost, self.version)


@dataclass(frozen=True, slots=True)
class Running:
    """A placed job: where it holds GPUs and what it weighs for fair share and preemption."""

    job_id: str
    tenant: str
    spec: JobSpec | None  # None when the job was placed before the fleet saw it queued
    submitted: int  # its queue position, kept if it is requeued
    placements: tuple[tuple[str, tuple[int, ...]], ...]  # (node key, indices) per member
    gpu_model: str | None
    gpus: int
    cpu: float
    memory_gb: float
    priority: int
    preemptible: bool
    seq: int  # order in which it was placed; the most recent is preempted first among equals


@dataclass(frozen=True, slots=True)
class QueuedJob:
    """A job waiting for GPUs. `held` is set by the caller (policy) to keep it waiting, e.g. `quota_exceeded`."""

    job_id: str
    spec: JobSpec
    tenant: str = DEFAULT_TENANT
    seq: int = 0  # submission order
    held: WaitReason | None = None
    shape: Shape = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", shape_of(self.spec))
