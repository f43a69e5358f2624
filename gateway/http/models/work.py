"""Work bodies: jobs (with placements and spec) and workflows (with the DAG's per-task state)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from gateway.http.models.common import Request
from schemas.jobs import JobSpec


class PlacementOut(BaseModel):
    cluster: str
    node: str
    gpu_indices: list[int]


class JobOut(BaseModel):
    id: str
    tenant: str
    name: str
    kind: str
    status: str
    pool: str | None
    gpu_model: str | None
    gpus: int
    gang: int
    priority: int
    labels: dict[str, str]
    workflow_id: str | None
    task: str | None
    submitted_at: datetime
    updated_at: datetime
    placements: list[PlacementOut]
    reason: str | None
    reason_code: str | None
    attempt: int
    exit_code: int | None
    link: str


class JobDetail(JobOut):
    spec: JobSpec | None = Field(None, description="the spec as submitted")


class CancelIn(Request):
    reason: str = ""


class TaskOut(BaseModel):
    name: str
    depends_on: list[str]
    group: str | None
    lead: bool
    retries: int
    status: str
    attempt: int
    job_id: str | None
    jobs: list[str]
    exit_code: int | None
    blocked_by: str | None


class WorkflowOut(BaseModel):
    id: str
    tenant: str
    name: str
    status: str
    timeout_s: int | None
    submitted_at: datetime
    updated_at: datetime
    counts: dict[str, int]
    reason: str | None
    failed_tasks: list[str]
    link: str


class WorkflowDetail(WorkflowOut):
    tasks: list[TaskOut] = Field(description="the DAG in declaration order, with per-task state and job ids")
