"""The allocation dry-run result: where a job would fit and, per rejected node, why not.

Values only (no wire message of its own): the gateway returns a `DryRun` for
"where would this job fit" requests. `rejected` is keyed by the node aggregate
id (`<cluster>--<node>`).
"""

from __future__ import annotations

from pydantic import Field

from schemas.jobs import Placement
from schemas.values import NonNegative, Value, WaitReason


class DryRunCandidate(Value):
    cluster: str
    node: str
    gpu_model: str | None = None
    gpu_indices: list[NonNegative] = Field(default_factory=list)  # what one member would get
    free_gpus_after: NonNegative = 0
    score: float = 0.0  # higher is preferred by the policy


class DryRun(Value):
    policy: str
    candidates: list[DryRunCandidate] = Field(default_factory=list)  # best first
    rejected: dict[str, WaitReason] = Field(default_factory=dict)
    placements: list[Placement] = Field(default_factory=list)  # the whole job, if a pass would place it now
    reason: WaitReason | None = None  # why it would wait otherwise
    victims: list[str] = Field(default_factory=list)  # jobs a pass would preempt for it
