"""Machine-readable wait reasons the allocator gives every job it does not place.

One builder per reason code, so the codes and their detail keys are stable:
`insufficient_gpus{model=H100, want=8, max_free=4}`, `no_matching_nodes{constraint=pool, want=a}`,
`gang_incomplete{want=4, fit=3}`, `topology{constraint=same_nvlink_domain, gpus=2}`,
`topology{constraint=same_rack, want=4, max_fit_in_rack=3}` and `quota_exceeded`
(set by policy on the queued job, passed through unchanged).
"""

from __future__ import annotations

from schemas.values import WaitReason

ANY_MODEL = "any"


def insufficient_gpus(model: str | None, want: int, max_free: int) -> WaitReason:
    return WaitReason(code="insufficient_gpus", details={"model": model or ANY_MODEL, "want": want, "max_free": max_free})


def no_matching_nodes(constraint: str, want: str | float | None = None) -> WaitReason:
    details: dict[str, str | int | float] = {"constraint": constraint}
    if want is not None:
        details["want"] = want
    return WaitReason(code="no_matching_nodes", details=details)


def gang_incomplete(want: int, fit: int) -> WaitReason:
    return WaitReason(code="gang_incomplete", details={"want": want, "fit": fit})


def nvlink_topology(gpus: int) -> WaitReason:
    return WaitReason(code="topology", details={"constraint": "same_nvlink_domain", "nvlink_domain": "none", "gpus": gpus})


def rack_topology(want: int, max_fit_in_rack: int) -> WaitReason:
    return WaitReason(code="topology", details={"constraint": "same_rack", "want": want, "max_fit_in_rack": max_fit_in_rack})


def quota_exceeded(**details: str | float) -> WaitReason:
    return WaitReason(code="quota_exceeded", details=dict(details))


def node_rejected(code: str, **details: str | float) -> WaitReason:
    """Why one node cannot take the job (dry-run): `gpu_model{want=H100, have=A100}`, `cordoned`..."""
    return WaitReason(code=code, details=dict(details))
