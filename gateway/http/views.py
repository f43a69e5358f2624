"""Read-model views -> response dicts (models.py), each with its link. Pure."""

from __future__ import annotations

from dataclasses import asdict, fields, is_dataclass
from typing import Any

import orjson

from projections.registry import ClusterView, JobView, NodeView, WorkflowView
from schemas import Envelope


def job_link(id: str) -> str:
    return f"/v1/jobs/{id}"


def workflow_link(id: str) -> str:
    return f"/v1/workflows/{id}"


def cluster_link(name: str) -> str:
    return f"/v1/clusters/{name}"


def node_link(cluster: str, node: str) -> str:
    return f"/v1/nodes/{cluster}/{node}"


def job(v: JobView) -> dict:
    out = {f.name: getattr(v, f.name) for f in fields(v) if f.name not in ("created_seq", "updated_seq")}
    out["placements"] = [{"cluster": s.cluster, "node": s.node, "gpu_indices": list(s.gpu_indices)}
                         for s in v.placements]
    out["link"] = job_link(v.id)
    return out


def cluster(v: ClusterView) -> dict:
    out = {f.name: getattr(v, f.name) for f in fields(v) if f.name not in ("created_seq", "updated_seq")}
    return {**out, "pools": list(v.pools), "platforms": list(v.platforms), "link": cluster_link(v.name)}


def node(v: NodeView) -> dict:
    out = {f.name: getattr(v, f.name) for f in fields(v) if f.name not in ("created_seq", "updated_seq")}
    return {**out, "used_gpu_indices": list(v.used_gpu_indices), "gpus_used": v.used_gpus,
            "gpus_free": v.free_gpus, "status": v.status, "link": node_link(v.cluster, v.name)}


def workflow(v: WorkflowView, *, tasks: bool = False) -> dict:
    out = {f.name: getattr(v, f.name) for f in fields(v) if f.name not in ("created_seq", "updated_seq", "tasks")}
    out.update(failed_tasks=list(v.failed_tasks), link=workflow_link(v.id))
    if tasks:
        out["tasks"] = [{**asdict(t), "depends_on": list(t.depends_on), "jobs": list(t.jobs)} for t in v.tasks]
    return out


def plain(view: Any) -> dict:
    """Any dataclass or pydantic view as a plain dict (identity views)."""
    if is_dataclass(view):
        return {f.name: getattr(view, f.name) for f in fields(view)}
    if hasattr(view, "model_dump"):
        return view.model_dump()
    return dict(view)


SECRET_FIELDS = frozenset({"token_hash", "key_hash"})  # not secrets themselves, but nobody needs to see them


def redacted(data: dict) -> dict:
    return {k: ("<redacted>" if k in SECRET_FIELDS else v) for k, v in data.items()}


def event(env: Envelope, seq: int) -> dict:
    return {
        "seq": seq, "id": env.id, "time": env.time, "type": env.type, "actor": env.actor,
        "causation": env.causationid, "correlation": env.correlationid, "aggregate": env.aggregate,
        "aggregate_id": env.aggregateid, "version": env.version,
        "data": redacted(orjson.loads(env.data.model_dump_json())),
    }
