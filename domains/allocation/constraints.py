"""Static placement constraints: which nodes could ever take a job member, and why not.

A job's `Shape` is everything placement looks at, as one hashable tuple: jobs of
the same shape are interchangeable, so a pass caches eligibility and failure
reasons per shape. Constraints are checked in a fixed order (GPU model, GPU
memory, pool, platform, node selector, schedulable, NVLink topology); the first
one a node fails is its rejection reason, and `unmatched_constraint` names the
first constraint that leaves no node at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, NamedTuple

from domains.allocation.reasons import ANY_MODEL, node_rejected
from schemas.jobs import JobSpec
from schemas.values import WaitReason

if TYPE_CHECKING:
    from domains.allocation.model import Node


class Shape(NamedTuple):
    model: str | None
    min_memory_gb: int
    pool: str | None
    platform: str | None
    selector: tuple[tuple[str, str], ...]
    nvlink: bool  # each member's GPUs must share an NVLink domain
    gpus: int  # per member
    gang: int
    same_rack: bool

    @property
    def plain(self) -> bool:
        """Only model, GPU count and NVLink matter: the bucket index answers it without a scan."""
        return (self.gang == 1 and self.gpus > 0 and not self.min_memory_gb and self.pool is None
                and self.platform is None and not self.selector)


def shape_of(spec: JobSpec) -> Shape:
    return Shape(
        spec.gpu_model, spec.min_gpu_memory_gb or 0, spec.pool, spec.platform,
        tuple(sorted(spec.node_selector.items())),
        spec.gpus > 1 and spec.topology.same_nvlink_domain,
        spec.gpus, spec.gang, spec.gang > 1 and spec.topology.same_rack,
    )


def _model(node: Node, s: Shape) -> WaitReason | None:
    if s.gpus and (node.model is None or (s.model is not None and node.model != s.model)):
        return node_rejected("gpu_model", want=s.model or ANY_MODEL, have=node.model or "none")
    return None


def _memory(node: Node, s: Shape) -> WaitReason | None:
    if s.min_memory_gb and node.spec.gpu_memory_gb < s.min_memory_gb:
        return node_rejected("gpu_memory", want=s.min_memory_gb, have=node.spec.gpu_memory_gb)
    return None


def _pool(node: Node, s: Shape) -> WaitReason | None:
    if s.pool is not None and node.spec.pool != s.pool:
        return node_rejected("pool", want=s.pool, have=node.spec.pool)
    return None


def _platform(node: Node, s: Shape) -> WaitReason | None:
    if s.platform is not None and node.spec.platform != s.platform:
        return node_rejected("platform", want=s.platform, have=node.spec.platform or "none")
    return None


def _selector(node: Node, s: Shape) -> WaitReason | None:
    for key, want in s.selector:
        have = node.spec.labels.get(key)
        if have != want:
            return node_rejected("node_selector", key=key, want=want, have=have if have is not None else "none")
    return None


def _schedulable(node: Node, s: Shape) -> WaitReason | None:
    for flag in ("lost", "draining", "cordoned"):
        if getattr(node, flag):
            return node_rejected(flag)
    return None


def _nvlink(node: Node, s: Shape) -> WaitReason | None:
    if s.nvlink and node.spec.nvlink_domain is None:
        return node_rejected("topology", constraint="same_nvlink_domain", nvlink_domain="none", gpus=s.gpus)
    return None


Check = Callable[["Node", Shape], WaitReason | None]
CHECKS: tuple[tuple[str, Check], ...] = (
    ("gpu_model", _model), ("gpu_memory", _memory), ("pool", _pool), ("platform", _platform),
    ("node_selector", _selector), ("schedulable", _schedulable), ("nvlink_domain", _nvlink),
)


def rejection(node: Node, shape: Shape) -> WaitReason | None:
    """The first constraint this node fails for one member of `shape`, or None if it is eligible."""
    for _, check in CHECKS:
        reason = check(node, shape)
        if reason is not None:
            return reason
    return None


def unmatched_constraint(nodes: Iterable[Node], shape: Shape) -> str | None:
    """The first constraint (in CHECKS order) that filters every remaining node out, or None."""
    survivors = list(nodes)
    for name, check in CHECKS:
        survivors = [n for n in survivors if check(n, shape) is None]
        if not survivors:
            return name
    return None
