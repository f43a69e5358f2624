"""Identity bodies: tenants, users, tokens (a token's secret only in `TokenCreated`)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from gateway.http.models.common import Request
from schemas.identity import DisplayName, Role, TenantName, TokenName, UserId


class CreateTenantIn(Request):
    tenant: TenantName
    display_name: DisplayName


class CreateUserIn(Request):
    user_id: UserId
    name: DisplayName
    role: Role


class ChangeRoleIn(Request):
    role: Role


class CreateTokenIn(Request):
    name: TokenName = "cli"
    user_id: UserId | None = Field(None, description="admins: issue for another user of the tenant")
    expires_in_s: int | None = Field(None, gt=0, description="lifetime in seconds (default from settings)")


class TokenCreated(BaseModel):
    id: str
    token: str = Field(description="the bearer token: shown once, never again")
    expires_at: datetime
    user_id: str
    tenant: str
    status: str = Field(description="active, or pending if the gateway has not applied it yet")


class TenantOut(BaseModel):
    tenant: str
    display_name: str
    created_at: datetime
    link: str


class UserOut(BaseModel):
    tenant: str
    user_id: str
    name: str
    role: str
    disabled: bool
    created_at: datetime
    link: str


class TokenOut(BaseModel):
    id: str
    tenant: str
    user_id: str
    name: str
    expires_at: datetime
    revoked: bool
    status: str = Field(description="active | revoked | expired")
    created_at: datetime
