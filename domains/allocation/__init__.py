"""Allocation: the placement engine. Pure, in memory, deterministic.

    fleet = Fleet(); fleet.apply(event, tenant=envelope.tenant)   # rebuild from registry + job events
    decisions = place(fleet, fleet.queue(), policy="binpack", now=now)
    dry_run = explain(fleet, spec, now=now)

`place` returns one `Decision` per queued job (`Placed` with exact GPU indices,
`Preempt` with the victims, or `Unschedulable` with a machine-readable
`WaitReason`); `to_commands` turns a decision into the scheduling domain's
commands. Unlike the other domains the fleet is a mutable object, for speed;
fleet.py says why and how determinism and replay equivalence are kept.
"""

from domains.allocation.decisions import (
    Assignment,
    Decision,
    Placed,
    Preempt,
    Unschedulable,
    placed_event,
    to_commands,
    wait_reason,
)
from domains.allocation.dryrun import explain
from domains.allocation.errors import (
    AllocationError,
    GpuConflict,
    UnknownNode,
    UnknownPolicy,
)
from domains.allocation.fleet import Fleet
from domains.allocation.model import DEFAULT_TENANT, QueuedJob
from domains.allocation.placement import POLICIES, place

__all__ = [
    "DEFAULT_TENANT", "POLICIES", "AllocationError", "Assignment", "Decision", "Fleet", "GpuConflict", "Placed", "Preempt",
    "QueuedJob", "UnknownNode", "UnknownPolicy", "Unschedulable", "explain", "place", "placed_event",
    "to_commands", "wait_reason",
]
