"""Bodies every resource shares: errors, the 202 answer, pages, health, whoami; the request base."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)  # JSON bodies: true is not 1, "5" is not 5


class ProblemOut(BaseModel):
    path: str
    message: str
    line: int | None = None


class ErrorDetail(BaseModel):
    code: str = Field(description="stable machine-readable code: not_found, invalid, conflict, ...")
    message: str
    field: str | None = Field(description="path of the offending field (spec.tasks[2].gpus), or null")
    problems: list[ProblemOut] | None = Field(None, description="422: every problem found")
    reason: str | None = Field(None, description="the domain's own code when it differs from `code`")


class ErrorBody(BaseModel):
    error: ErrorDetail


class Accepted(BaseModel):
    id: str
    status: str = Field(description="the object's state after the command, or 'pending' if not known yet")
    link: str


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page; null on the last")


class Health(BaseModel):
    status: str
    position: int = Field(description="the EVT sequence the read models have applied")


class WhoAmI(BaseModel):
    tenant: str
    user_id: str
    role: str
    token_id: str
    actor: str
    platform_admin: bool
