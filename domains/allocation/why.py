"""Why a shape does not fit right now: the one wait reason a queued job is given.

Checked from the most to the least fundamental: no node passes the static
constraints (`no_matching_nodes{constraint=...}`, or `topology{constraint=same_nvlink_domain}`
when only the NVLink requirement is left unmet), no eligible node has enough
free GPUs for one member (`insufficient_gpus{model, want, max_free}`), a gang
whose members do not all fit (`gang_incomplete{want, fit}`), and a gang that
would fit but not within one rack (`topology{constraint=same_rack}`).
"""

from __future__ import annotations

from domains.allocation import reasons
from domains.allocation.constraints import Shape, unmatched_constraint
from domains.allocation.fit import Eligible, groups, members_fitting
from domains.allocation.fleet import Fleet
from schemas.values import WaitReason


def _want(constraint: str, shape: Shape) -> str | int | None:
    return {
        "gpu_model": shape.model or reasons.ANY_MODEL,
        "gpu_memory": shape.min_memory_gb,
        "pool": shape.pool,
        "platform": shape.platform,
        "node_selector": ",".join(f"{k}={v}" for k, v in shape.selector),
    }.get(constraint)


def why_not(fleet: Fleet, shape: Shape, eligible: Eligible) -> WaitReason:
    if shape.plain:  # the bucket index knows the largest free count without a scan
        max_free = fleet.index.max_free(shape.model, shape.nvlink)
        if max_free:
            return reasons.insufficient_gpus(shape.model, shape.gpus, max_free)
    nodes = eligible(shape)
    if not nodes:
        if not fleet.nodes:
            return reasons.no_matching_nodes("registered_nodes")
        constraint = unmatched_constraint(fleet.nodes.values(), shape) or "registered_nodes"
        if constraint == "nvlink_domain":
            return reasons.nvlink_topology(shape.gpus)
        return reasons.no_matching_nodes(constraint, _want(constraint, shape))
    max_free = max(len(n.free) for n in nodes)
    if max_free < shape.gpus or shape.gang == 1:
        return reasons.insufficient_gpus(shape.model, shape.gpus, max_free)
    fit = max(members_fitting(ns, shape.gpus) for ns in groups(nodes, shape._replace(same_rack=False)).values())
    if fit < shape.gang:
        return reasons.gang_incomplete(shape.gang, fit)
    in_rack = max((members_fitting(ns, shape.gpus) for ns in groups(nodes, shape).values()), default=0)
    return reasons.rack_topology(shape.gang, in_rack)
