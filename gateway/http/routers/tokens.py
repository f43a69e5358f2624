"""/v1/tokens: issue (the token is shown once), list, revoke.

The token is minted here (gateway/tokens.py: a CSPRNG id and secret); only
its id and sha256 hash travel in IssueToken, so the plain token exists in
exactly one place: the 201 answer to the caller who asked for it. It is never
logged (the access log has no headers or bodies) and the request is answered
only once it authenticates on this replica (read-your-writes), or with
status "pending". `Idempotency-Key` is refused here: a retry cannot be
answered with a secret that is not kept anywhere; issue a new token instead.

Members issue, list and revoke their own tokens; tenant admins any in their
tenant (`permissions.may_manage_token`). A token the caller may not manage
answers like a missing one. Revocation is a `TokenRevoked` event: every
replica's read model stops authenticating the token when it applies it.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Depends, Query, Request

from domains.identity.permissions import ADMINS, may_manage_token
from gateway.http.auth import Caller, reader, writer
from gateway.http.commands import accepted, build, execute
from gateway.http.docs import COMMAND, errors
from gateway.http.errors import Invalid, missing
from gateway.http.idempotency import HEADER
from gateway.http.models import Accepted, CreateTokenIn, Page, TokenCreated, TokenOut
from gateway.http.outcomes import Pending
from gateway.http.pages import page, page_query
from gateway.http.services import Services
from gateway.tokens import new_token
from schemas import derived_id
from schemas import identity as i


def router(s: Services) -> APIRouter:
    r = APIRouter(prefix="/v1/tokens", tags=["tokens"])
    paging = page_query(s.settings)

    def token_out(v) -> dict:
        return {"id": v.token_id, "tenant": v.tenant, "user_id": v.user_id, "name": v.name,
                "expires_at": v.expires_at, "revoked": v.revoked, "status": v.status(s.clock()),
                "created_at": v.created_at}

    @r.post("", status_code=201, response_model=TokenCreated, summary="Issue a token (shown once)",
            responses=errors(*COMMAND))
    async def issue(request: Request, body: CreateTokenIn, caller: Caller = Depends(writer("tokens:write"))
                    ) -> dict:
        if HEADER in request.headers:
            why = "tokens cannot be issued idempotently: the secret is shown once; retry without the key"
            raise Invalid([(f"header.{HEADER}", why)])
        tenant, owner = caller.acting, body.user_id or caller.user_id
        user = s.identity.user(tenant, owner)
        if user is None or user.disabled:
            raise missing("user", owner)
        if not may_manage_token(caller.principal, tenant, owner):
            raise missing("user", owner)
        ttl = body.expires_in_s or s.settings.token_ttl_s
        if ttl > s.settings.max_token_ttl_s:
            raise Invalid([("expires_in_s", f"must be <= {s.settings.max_token_ttl_s}")])
        expires_at = s.clock() + timedelta(seconds=ttl)
        token, token_id, token_hash = new_token()
        cmd = build(i.IssueToken, token_id=token_id, user_id=owner, name=body.name, token_hash=token_hash,
                    expires_at=expires_at)
        outcome = await execute(s, caller.actor, tenant, cmd, derived_id("issue_token", token_id))
        status = "pending" if isinstance(outcome, Pending) else "active"
        return {"id": token_id, "token": token, "expires_at": expires_at, "user_id": owner, "tenant": tenant,
                "status": status}

    @r.get("", response_model=Page[TokenOut], summary="List tokens (never their secrets)",
           responses=errors(400, 422))
    async def list_tokens(caller: Caller = Depends(reader("tokens:read")), p=Depends(paging),
                          user_id: str | None = Query(None, description="admins: one user's tokens")) -> dict:
        if caller.principal.role not in ADMINS:
            user_id = caller.user_id  # members and viewers see their own tokens only
        got = s.identity.tokens(caller.acting, user_id, page_size=p.page_size, cursor=p.cursor)
        return page([token_out(v) for v in got.items], got.next_cursor)

    @r.delete("/{token_id}", status_code=202, response_model=Accepted, summary="Revoke a token",
              responses=errors(*COMMAND))
    async def revoke(token_id: str, caller: Caller = Depends(writer("tokens:write"))) -> dict:
        tenant = caller.acting
        view = s.identity.token(tenant, token_id)
        if view is None or not may_manage_token(caller.principal, tenant, view.user_id):
            raise missing("token", token_id)
        if not view.revoked:
            cmd = build(i.RevokeToken, token_id=token_id)
            outcome = await execute(s, caller.actor, tenant, cmd, derived_id("revoke_token", tenant, token_id))
            if isinstance(outcome, Pending):
                return accepted(token_id, None, f"/v1/tokens/{token_id}", outcome)
        return accepted(token_id, "revoked", f"/v1/tokens/{token_id}")

    return r
