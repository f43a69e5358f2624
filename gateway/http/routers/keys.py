"""/v1/keys: API keys for the inference proxy: create (the key is shown once), list, get, revoke, limits, budget.

A key belongs to its tenant, not to a user (domains.identity.permissions:
`keys:write` for tenant admins and members, `keys:read` for every role of the
tenant). The key is minted here (gateway.tokens.new_api_key: CSPRNG id and
secret); only its id and sha256 hash travel in CreateApiKey, so the plain key
exists in exactly one place: the 201 answer. As with tokens, an
`Idempotency-Key` is refused on create (a retry cannot be answered with a
secret nobody kept). Every answer waits for this gateway's identity model to
apply the command (read-your-writes) or says "pending".

Revocation, limits and budget are events: every proxy replica's identity model
applies them as they arrive on EVT (effective within its follow latency).
A key's answer lists its budget alerts (`budget_alerts`: each 50/80/100%
threshold its spend reached under the current budget, announced once by the
key's aggregate when a proxy reported the spend); a budget change starts
them over.
Another tenant's key answers exactly like a missing one.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from gateway.http.auth import Caller, reader, writer
from gateway.http.commands import accepted, build, execute
from gateway.http.docs import COMMAND, errors
from gateway.http.errors import Invalid, missing
from gateway.http.idempotency import HEADER
from gateway.http.models import Accepted, Page
from gateway.http.models.common import Request as Body
from gateway.http.outcomes import Pending
from gateway.http.pages import page, page_query
from gateway.http.services import Services
from gateway.tokens import new_api_key
from schemas import derived_id
from schemas import identity as i
from schemas.billing import BudgetMode
from schemas.metering import DecimalString

MAX_TTL_S = 10 * 365 * 86400


MODE = "hard: requests past the budget are refused (402); soft: alerts only"


class CreateKeyIn(Body):
    name: i.ApiKeyName
    models: list[i.ModelName] = Field(default_factory=list, max_length=1000,
                                      description="models the key may call; empty: every model")
    rpm: i.PerMinute | None = Field(None, description="requests per minute; null: unlimited")
    tpm: i.PerMinute | None = Field(None, description="tokens per minute; null: unlimited")
    budget: DecimalString | None = Field(None, description="spend limit (exact decimal); null: unlimited")
    budget_mode: BudgetMode = Field("hard", description=MODE)
    expires_in_s: int | None = Field(None, gt=0, le=MAX_TTL_S, description="lifetime in seconds; null: no expiry")


class LimitsIn(Body):
    rpm: i.PerMinute | None = Field(None, description="requests per minute; null: unlimited")
    tpm: i.PerMinute | None = Field(None, description="tokens per minute; null: unlimited")


class BudgetIn(Body):
    budget: DecimalString | None = Field(description="spend limit (exact decimal); null: unlimited")
    budget_mode: BudgetMode = Field("hard", description=MODE)


class BudgetAlertOut(BaseModel):
    threshold: int = Field(description="percent of the budget reached: 50, 80 or 100")
    spent: str = Field(description="the key's spend when it was reported (exact decimal)")
    limit: str = Field(description="the budget in force (exact decimal)")
    time: datetime


class KeyOut(BaseModel):
    id: str
    tenant: str
    name: str
    allowed_models: list[str]
    expires_at: datetime | None
    rpm: int | None
    tpm: int | None
    budget: str | None
    budget_mode: BudgetMode = Field(description="hard: refused past the budget; soft: alerts only")
    budget_alerts: list[BudgetAlertOut] = Field(default_factory=list,
                                                description="thresholds reached under the current budget")
    revoked: bool
    status: str = Field(description="active | revoked | expired")
    created_by: str
    created_at: datetime
    link: str


class KeyCreated(KeyOut):
    key: str = Field(description="the API key: shown once, never again")


def link(key_id: str) -> str:
    return f"/v1/keys/{key_id}"


def router(s: Services) -> APIRouter:
    r = APIRouter(prefix="/v1/keys", tags=["keys"])
    paging = page_query(s.settings)

    def key_out(v) -> dict:
        return {"id": v.key_id, "tenant": v.tenant, "name": v.name, "allowed_models": list(v.allowed_models),
                "expires_at": v.expires_at, "rpm": v.rpm, "tpm": v.tpm,
                "budget": None if v.budget is None else str(v.budget), "budget_mode": v.budget_mode,
                "revoked": v.revoked,
                "budget_alerts": [{"threshold": a.threshold, "spent": str(a.spent), "limit": str(a.limit),
                                   "time": a.time} for a in v.budget_alerts],
                "status": v.status(s.clock()), "created_by": v.created_by, "created_at": v.created_at,
                "link": link(v.key_id)}

    def find(caller: Caller, key_id: str, tenant: str):
        view = s.identity.api_key(tenant, key_id) if caller.owns(tenant) else None
        if view is None:
            raise missing("key", key_id)
        return view

    async def change(caller: Caller, key_id: str, command, operation: str, *parts) -> dict:
        tenant = caller.acting
        find(caller, key_id, tenant)
        outcome = await execute(s, caller.actor, tenant, command, derived_id(operation, tenant, key_id, *parts))
        view = s.identity.api_key(tenant, key_id)
        return accepted(key_id, view.status(s.clock()) if view else None, link(key_id), outcome)

    @r.post("", status_code=201, response_model=KeyCreated, summary="Create an API key (shown once)",
            responses=errors(*COMMAND))
    async def create(request: Request, body: CreateKeyIn, caller: Caller = Depends(writer("keys:write"))) -> dict:
        if HEADER in request.headers:
            why = "API keys cannot be created idempotently: the key is shown once; retry without the header"
            raise Invalid([(f"header.{HEADER}", why)])
        tenant = caller.acting
        expires_at = s.clock() + timedelta(seconds=body.expires_in_s) if body.expires_in_s else None
        key, key_id, key_hash = new_api_key()
        cmd = build(i.CreateApiKey, key_id=key_id, name=body.name, key_hash=key_hash,
                    allowed_models=list(dict.fromkeys(body.models)), expires_at=expires_at, rpm=body.rpm,
                    tpm=body.tpm, budget=body.budget, budget_mode=body.budget_mode)
        outcome = await execute(s, caller.actor, tenant, cmd, derived_id("create_api_key", key_id))
        view = s.identity.api_key(tenant, key_id)
        if view is not None and not isinstance(outcome, Pending):
            return {**key_out(view), "key": key}
        return {"id": key_id, "tenant": tenant, "name": body.name, "allowed_models": list(cmd.allowed_models),
                "expires_at": expires_at, "rpm": body.rpm, "tpm": body.tpm,
                "budget": None if body.budget is None else str(body.budget), "budget_mode": body.budget_mode,
                "revoked": False, "status": "pending",
                "created_by": caller.actor, "created_at": s.clock(), "link": link(key_id), "key": key}

    @r.get("", response_model=Page[KeyOut], summary="List the tenant's API keys (never the keys themselves)",
           responses=errors(400, 422))
    async def list_keys(caller: Caller = Depends(reader("keys:read")), p=Depends(paging)) -> dict:
        got = s.identity.api_keys(caller.acting, page_size=p.page_size, cursor=p.cursor)
        return page([key_out(v) for v in got.items], got.next_cursor)

    @r.get("/{key_id}", response_model=KeyOut, summary="Get an API key", responses=errors(404))
    async def get_key(key_id: str, caller: Caller = Depends(reader("keys:read"))) -> dict:
        return key_out(find(caller, key_id, caller.acting))

    @r.delete("/{key_id}", status_code=202, response_model=Accepted, summary="Revoke an API key",
              responses=errors(*COMMAND))
    async def revoke(key_id: str, caller: Caller = Depends(writer("keys:write"))) -> dict:
        if find(caller, key_id, caller.acting).revoked:  # nothing to send: DELETE is idempotent
            return accepted(key_id, "revoked", link(key_id))
        return await change(caller, key_id, build(i.RevokeApiKey, key_id=key_id), "revoke_api_key")

    @r.post("/{key_id}/limits", status_code=202, response_model=Accepted,
            summary="Replace the key's per-minute limits (null: unlimited)", responses=errors(*COMMAND))
    async def limits(key_id: str, body: LimitsIn, caller: Caller = Depends(writer("keys:write"))) -> dict:
        cmd = build(i.ChangeApiKeyLimits, key_id=key_id, rpm=body.rpm, tpm=body.tpm)
        return await change(caller, key_id, cmd, "api_key_limits", str(body.rpm), str(body.tpm), _seq(s, caller,
                                                                                                       key_id))

    @r.post("/{key_id}/budget", status_code=202, response_model=Accepted,
            summary="Set the key's budget and mode (null: unlimited; soft: alerts only)", responses=errors(*COMMAND))
    async def budget(key_id: str, body: BudgetIn, caller: Caller = Depends(writer("keys:write"))) -> dict:
        cmd = build(i.ChangeApiKeyBudget, key_id=key_id, budget=body.budget, budget_mode=body.budget_mode)
        return await change(caller, key_id, cmd, "api_key_budget", _decimal(body.budget), body.budget_mode,
                            _seq(s, caller, key_id))

    return r


def _seq(s: Services, caller: Caller, key_id: str) -> str:
    """The key's version as this gateway sees it: a change repeated later (A, B, A) is a new command, not a copy."""
    view = s.identity.api_key(caller.acting, key_id)
    return str(view.updated_seq if view is not None else 0)


def _decimal(value: Decimal | None) -> str:
    return "none" if value is None else str(value.normalize())
