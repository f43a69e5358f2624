"""Fleet bodies: clusters, nodes, a cluster spec's dry run, node actions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from gateway.http.models.common import ProblemOut, Request


class ClusterOut(BaseModel):
    name: str
    region: str
    backend: str
    pools: list[str]
    platforms: list[str]
    labels: dict[str, str]
    nodes: int
    gpus_total: int
    link: str


class NodeOut(BaseModel):
    id: str
    cluster: str
    name: str
    pool: str
    platform: str | None
    gpu_model: str | None
    gpus_total: int
    gpus_used: int
    gpus_free: int
    used_gpu_indices: list[int]
    gpu_memory_gb: int
    nvlink_domain: str | None
    rack: str | None
    labels: dict[str, str]
    status: str = Field(description="ready | cordoned | draining | lost")
    health: str
    health_reason: str | None
    last_heartbeat: datetime | None
    link: str


class ClusterDryRunOut(BaseModel):
    valid: bool
    problems: list[ProblemOut]
    summary: dict[str, Any] | None = Field(None, description="what would be onboarded (valid specs only)")


class NodeActionIn(Request):
    reason: str = ""
