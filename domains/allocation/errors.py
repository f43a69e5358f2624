"""The allocation domain's errors: invalid requests to the placement engine.

Every error names the `field` path of the problem and a stable `code`. An event
that would break the engine's invariants (a GPU given twice, more GPUs than a
node has) is refused with `GpuConflict` before anything is changed, so a failed
`Fleet.apply` never leaves the fleet half-updated.
"""

from __future__ import annotations

from domains.errors import Conflict, DomainError, NotFound


class AllocationError(DomainError):
    code = "allocation_invalid"


class UnknownPolicy(AllocationError):
    code = "unknown_policy"


class UnknownNode(NotFound):
    code = "unknown_node"


class GpuConflict(Conflict):
    """A placement names a GPU index that is already held, repeated, or beyond the node's GPUs."""

    code = "gpu_conflict"
