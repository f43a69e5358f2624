"""Fleet spec text -> the clusters to onboard and the simulation settings, or every problem with its path.

`parse_fleet(source)` accepts YAML/JSON text or loaded data, in the full or the
compact form (spec.py). It raises `FleetSpecError` listing every problem, each
with the path in the document (`clusters[1].generate[0].gpus_per_node`) and its
line when known: syntax, unknown fields (with a hint), wrong types (strict: "8"
is not a count), bounds, and the registry's own cluster rules (unique names,
pools, GPU inventory) on the expanded clusters, reported at the explicit node
or the generator that made the offending node. Pure: nothing is read or sent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from adapters.simulator.spec import (
    CompactFleet,
    FleetCluster,
    FleetSpec,
    Generate,
    Simulation,
)
from domains.registry.document import Document, load_document
from domains.registry.problems import Problem, from_validation_error
from domains.registry.rules import spec_problems
from schemas.fleet import ClusterSpec, NodeSpec, PoolSpec

BACKEND_LABEL = {"tessera.dev/backend": "simulator"}
_NODE_REF = re.compile(r"nodes\[(\d+)\]")


class FleetSpecError(ValueError):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("invalid fleet spec:\n" + "\n".join(f"  {p}" for p in problems))


@dataclass(frozen=True)
class Fleet:
    clusters: list[ClusterSpec]
    simulation: Simulation

    @property
    def nodes(self) -> int:
        return sum(len(c.nodes) for c in self.clusters)


def _model_at(loc: tuple) -> type[BaseModel] | None:
    models: dict[tuple, type[BaseModel]] = {(): FleetSpec, ("clusters",): FleetCluster, ("nodes",): NodeSpec,
                                            ("generate",): Generate, ("pools",): PoolSpec, ("simulation",): Simulation}
    names = tuple(p for p in loc if isinstance(p, str))
    return models.get(names[-1:], None) if names else (CompactFleet if loc == () else None)


def parse_fleet(source: str | dict[str, Any]) -> Fleet:
    doc = load_document(source, "yaml") if isinstance(source, str) else Document(source)  # YAML reads JSON too
    if doc.problems and doc.data is None:
        raise FleetSpecError(doc.problems)
    if not isinstance(doc.data, dict):
        raise FleetSpecError([Problem("", "expected a mapping: `clusters: [...]` or `{nodes: N, ...}`")])
    compact = "clusters" not in doc.data
    try:
        model = (CompactFleet if compact else FleetSpec).model_validate(doc.data, strict=True)
    except ValidationError as exc:
        at = _model_at if not compact else (lambda loc: CompactFleet if loc == () else _model_at(loc))
        raise FleetSpecError(_located(doc, [*doc.problems, *from_validation_error(exc, at)])) from None
    spec = _from_compact(model) if isinstance(model, CompactFleet) else model
    clusters, problems = [], list(doc.problems)
    seen: dict[str, int] = {}
    for i, cluster in enumerate(spec.clusters):
        where = "" if compact else f"clusters[{i}]."
        if cluster.name in seen:
            problems.append(Problem(f"{where}name", f"duplicate cluster name '{cluster.name}' "
                                                    f"(first at clusters[{seen[cluster.name]}])"))
        seen.setdefault(cluster.name, i)
        expanded, origins = _expand(cluster, where, compact)
        reported: set[str] = set()
        for p in (_at_origin(p, origins) for p in spec_problems(expanded.model_dump())):
            if p.path not in reported:  # a generator's problem repeats on every node it made: say it once
                problems.append(p)
                reported.add(p.path)
        clusters.append(expanded)
    if problems:
        raise FleetSpecError(_located(doc, problems))
    return Fleet(clusters, spec.simulation)


def _from_compact(c: CompactFleet) -> FleetSpec:
    generate = Generate(**{k: getattr(c, k) for k in Generate.model_fields})
    pool = PoolSpec(name=c.pool, platforms=[c.platform] if c.platform else [])  # the compact form declares its pool
    return FleetSpec(clusters=[FleetCluster(name=c.name, region=c.region, pools=[pool], generate=[generate])],
                     simulation=c.simulation)


def _expand(cluster: FleetCluster, where: str, compact: bool) -> tuple[ClusterSpec, list[str]]:
    nodes = [n.model_copy(update={"labels": {**BACKEND_LABEL, **n.labels}}) for n in cluster.nodes]
    origins = [f"{where}nodes[{i}]" for i in range(len(nodes))]
    for k, gen in enumerate(cluster.generate):
        width = len(str(gen.nodes - 1))
        for i in range(gen.nodes):
            name = f"{gen.prefix}{i:0{width}d}"
            nodes.append(NodeSpec(
                name=name, pool=gen.pool, platform=gen.platform, gpu_model=gen.gpu_model if gen.gpus_per_node else None,
                gpu_count=gen.gpus_per_node, gpu_memory_gb=gen.gpu_memory_gb if gen.gpus_per_node else 0,
                nvlink_domain=f"{name}-nvl" if gen.gpus_per_node else None,
                rack=f"{cluster.name}-rack{i * gen.racks // gen.nodes}", cpu=gen.cpu, memory_gb=gen.memory_gb,
                labels={**BACKEND_LABEL, **gen.labels}))
            origins.append("" if compact else f"{where}generate[{k}]")
    spec = ClusterSpec(name=cluster.name, region=cluster.region, backend="simulator", pools=cluster.pools,
                       nodes=nodes, labels=cluster.labels)
    return spec, origins


def _at_origin(problem: Problem, origins: list[str]) -> Problem:
    """`nodes[70].name` of the expanded spec -> the explicit node or the generator that made node 70."""
    message = _NODE_REF.sub(lambda m: _origin(origins, int(m.group(1))), problem.message)
    if not problem.path.startswith("nodes["):
        prefix = origins[0].rsplit("nodes[", 1)[0] if origins and "nodes[" in origins[0] else ""
        return Problem(f"{prefix}{problem.path}", message)
    index, _, rest = problem.path[len("nodes["):].partition("]")
    origin = origins[int(index)]
    if origin.startswith("nodes[") or ".nodes[" in origin:
        return Problem(f"{origin}{rest}", message)
    field = rest.lstrip(".")
    field = {"gpu_count": "gpus_per_node", "name": "prefix"}.get(field, field)
    return Problem(f"{origin}.{field}" if origin else field, message)


def _origin(origins: list[str], index: int) -> str:
    origin = origins[index]
    return origin if origin.startswith("nodes[") or ".nodes[" in origin else f"{origin or 'generated'} node {index}"


def _located(doc: Document, problems: list[Problem]) -> list[Problem]:
    return list({Problem(p.path, p.message, p.line or doc.line_of(p.path)): None for p in problems})
