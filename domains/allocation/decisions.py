"""What a placement pass decides for each queued job, and the commands that carry it out.

Exactly one decision per queued job: `Placed` (exact GPU indices per gang
member), `Unschedulable` (a machine-readable reason), or `Preempt` (the victims
to evict so the job fits next pass; `reason` says why it cannot be placed now).
Decisions are slotted dataclasses, not messages: the kernel builds one per job
and pydantic validation would dominate a 100,000-job pass. `to_commands` turns
them into the scheduling domain's commands; `placed_event` lets the caller fold
its own decision into its fleet before the log echoes it back (a redelivered
`JobPlaced` with the same placements is a no-op).
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas.base import Command
from schemas.jobs import JobPlaced, MarkUnschedulable, PlaceJob, Placement, PreemptJob
from schemas.values import WaitReason


@dataclass(frozen=True, slots=True)
class Assignment:
    """One gang member's node and exact GPU indices (`schemas.jobs.Placement` without validation cost)."""

    cluster: str
    node: str
    gpu_indices: tuple[int, ...]

    def to_placement(self) -> Placement:
        return Placement(cluster=self.cluster, node=self.node, gpu_indices=list(self.gpu_indices))


@dataclass(frozen=True, slots=True)
class Placed:
    job_id: str
    placements: tuple[Assignment, ...]  # one per gang member, in member order
    gpu_model: str | None

    def schema_placements(self) -> list[Placement]:
        return [a.to_placement() for a in self.placements]


@dataclass(frozen=True, slots=True)
class Unschedulable:
    job_id: str
    reason: WaitReason


@dataclass(frozen=True, slots=True)
class Preempt:
    job_id: str  # the job that needs the room
    victims: tuple[str, ...]
    reason: WaitReason  # why it waits until the victims are gone


Decision = Placed | Unschedulable | Preempt


def wait_reason(decision: Decision) -> WaitReason | None:
    return None if isinstance(decision, Placed) else decision.reason


def placed_event(decision: Placed) -> JobPlaced:
    return JobPlaced(job_id=decision.job_id, placements=decision.schema_placements(), gpu_model=decision.gpu_model)


def to_commands(decision: Decision) -> list[Command]:
    if isinstance(decision, Placed):
        return [PlaceJob(job_id=decision.job_id, placements=decision.schema_placements())]
    if isinstance(decision, Unschedulable):
        return [MarkUnschedulable(job_id=decision.job_id, reason=decision.reason)]
    evicted = WaitReason(code="preempted", details={"by_job": decision.job_id})
    return [PreemptJob(job_id=v, by_job=decision.job_id, reason=evicted) for v in decision.victims] + [
        MarkUnschedulable(job_id=decision.job_id, reason=decision.reason)]
