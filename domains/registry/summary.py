"""What a valid cluster spec would onboard, for the dry-run: nodes, GPUs per model, pools.

Counts are plain ints and every mapping is ordered by name, so two dry-runs of
the same spec compare equal and serialise identically.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from domains.registry.problems import Problem
from schemas.fleet import ClusterSpec


@dataclass(frozen=True)
class PoolSummary:
    name: str
    platforms: tuple[str, ...]
    nodes: int
    gpus: int


@dataclass(frozen=True)
class SpecSummary:
    cluster: str
    region: str
    backend: str
    nodes: int
    gpus: int
    gpus_by_model: dict[str, int] = field(default_factory=dict)
    pools: tuple[PoolSummary, ...] = ()
    nvlink_domains: tuple[str, ...] = ()
    racks: tuple[str, ...] = ()


@dataclass(frozen=True)
class DryRun:
    problems: tuple[Problem, ...]
    summary: SpecSummary | None

    @property
    def ok(self) -> bool:
        return not self.problems


def summarise(spec: ClusterSpec) -> SpecSummary:
    by_model: Counter[str] = Counter()
    pool_nodes: Counter[str] = Counter()
    pool_gpus: Counter[str] = Counter()
    for node in spec.nodes:
        if node.gpu_model:
            by_model[node.gpu_model] += node.gpu_count
        pool_nodes[node.pool] += 1
        pool_gpus[node.pool] += node.gpu_count
    return SpecSummary(
        cluster=spec.name,
        region=spec.region,
        backend=spec.backend,
        nodes=len(spec.nodes),
        gpus=sum(n.gpu_count for n in spec.nodes),
        gpus_by_model=dict(sorted(by_model.items())),
        pools=tuple(
            PoolSummary(p.name, tuple(p.platforms), pool_nodes[p.name], pool_gpus[p.name])
            for p in sorted(spec.pools, key=lambda p: p.name)
        ),
        nvlink_domains=tuple(sorted({n.nvlink_domain for n in spec.nodes if n.nvlink_domain})),
        racks=tuple(sorted({n.rack for n in spec.nodes if n.rack})),
    )
