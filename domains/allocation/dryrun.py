"""Dry-run: `explain(fleet, spec) -> DryRun` — where one member of this job would fit, and why not elsewhere.

For every node: either a candidate (the exact GPU indices it would get, the
free GPUs left, and the policy's score: binpack prefers the fullest node, spread
the emptiest; candidates come best first) or the first reason it is rejected
(`gpu_model{want, have}`, `pool{...}`, `node_selector{key, want, have}`,
`cordoned`, `topology{constraint=same_nvlink_domain}`,
`insufficient_gpus{want, free}`...). `placements`/`reason`/`victims` are what a
pass would decide for the whole job right now (gang included). Pure: the fleet
is not changed.
"""

from __future__ import annotations

from datetime import datetime

from domains.allocation.constraints import rejection, shape_of
from domains.allocation.decisions import Placed, Preempt
from domains.allocation.fleet import Fleet
from domains.allocation.model import DEFAULT_TENANT, QueuedJob
from domains.allocation.placement import place
from domains.allocation.reasons import node_rejected
from schemas.allocation import DryRun, DryRunCandidate
from schemas.jobs import JobSpec
from schemas.values import WaitReason

DRY_RUN_JOB = "dry-run"


def explain(fleet: Fleet, spec: JobSpec, *, policy: str = "binpack", tenant: str = DEFAULT_TENANT,
            now: datetime) -> DryRun:
    shape = shape_of(spec)
    g = shape.gpus
    candidates: list[tuple[tuple[float, int], DryRunCandidate]] = []
    rejected: dict[str, WaitReason] = {}
    for node in fleet.nodes.values():
        reason = rejection(node, shape)
        if reason is None and len(node.free) < g:
            reason = node_rejected("insufficient_gpus", want=g, free=len(node.free))
        if reason is not None:
            rejected[node.key] = reason
            continue
        left = len(node.free) - g
        total = node.spec.gpu_count
        score = round(((left if policy == "spread" else total - left) / total) if total else 0.0, 6)
        candidates.append(((-score, node.ordinal), DryRunCandidate(
            cluster=node.cluster, node=node.name, gpu_model=node.model if g else None,
            gpu_indices=node.free[:g], free_gpus_after=left, score=score)))
    candidates.sort(key=lambda item: item[0])
    decision = place(fleet, [QueuedJob(DRY_RUN_JOB, spec, tenant, fleet.seq)], policy=policy, now=now)[0]
    return DryRun(
        policy=policy,
        candidates=[c for _, c in candidates],
        rejected=rejected,
        placements=decision.schema_placements() if isinstance(decision, Placed) else [],
        reason=None if isinstance(decision, Placed) else decision.reason,
        victims=list(decision.victims) if isinstance(decision, Preempt) else [],
    )
