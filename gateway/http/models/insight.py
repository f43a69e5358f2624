"""Insight bodies: an object's events, a job's log lines, GPU usage."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class EventOut(BaseModel):
    seq: int
    id: str
    time: datetime
    type: str
    actor: str
    causation: str | None
    correlation: str
    aggregate: str
    aggregate_id: str
    version: int
    data: dict[str, Any]


class LogLineOut(BaseModel):
    seq: int
    task: str | None = None
    attempt: int
    stream: str
    line: str
    time: datetime


class UsageRow(BaseModel):
    key: str = Field(description="the group: tenant, job id, GPU model or day (YYYY-MM-DD)")
    gpu_seconds: str = Field(description="decimal GPU-seconds of closed usage intervals")
    gpu_hours: str
    jobs: int


class UsageOut(BaseModel):
    group_by: str
    tenant: str | None
    items: list[UsageRow]
