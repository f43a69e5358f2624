"""/v1/users: create, list, get, change role, disable (in the caller's tenant; platform admins name one).

Who may grant which role is the identity domain's rule
(`permissions.may_grant`: platform-admin only inside `_platform` and only by a
platform admin; tenant admins grant the others in their tenant). The tenant
must exist: the user aggregate cannot see it, so the gateway checks.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from domains.identity.permissions import may_grant
from gateway.http.auth import Caller, reader, writer
from gateway.http.commands import accepted, build, execute
from gateway.http.docs import COMMAND, errors
from gateway.http.errors import Forbidden, NotFound, missing
from gateway.http.idempotency import key_header
from gateway.http.models import Accepted, ChangeRoleIn, CreateUserIn, Page, UserOut
from gateway.http.pages import page, page_query
from gateway.http.services import Services
from schemas import identity as i

KEY = key_header("answer")


def user_out(v) -> dict:
    return {"tenant": v.tenant, "user_id": v.user_id, "name": v.name, "role": v.role, "disabled": v.disabled,
            "created_at": v.created_at, "link": f"/v1/users/{v.user_id}"}


def user_status(v) -> str | None:
    return None if v is None else "disabled" if v.disabled else "active"


def router(s: Services) -> APIRouter:
    r = APIRouter(prefix="/v1/users", tags=["users"])
    paging = page_query(s.settings)

    def find(tenant: str, user_id: str):
        view = s.identity.user(tenant, user_id)
        if view is None:
            raise missing("user", user_id)
        return view

    async def command(caller: Caller, operation: str, user_id: str, cmd: i.Command, key: str | None) -> dict:
        tenant = caller.acting
        ids = s.idempotency.ids(operation, tenant, caller.user_id, key, cmd.model_dump_json(), object_id=user_id)
        on = (tenant, "user", user_id) if ids.keyed and s.identity.user(tenant, user_id) else None
        outcome = await execute(s, caller.actor, tenant, cmd, ids.command_id, on=on)
        return accepted(user_id, user_status(s.identity.user(tenant, user_id)), f"/v1/users/{user_id}", outcome)

    @r.post("", status_code=202, response_model=Accepted, summary="Create a user", responses=errors(*COMMAND))
    async def create(body: CreateUserIn, caller: Caller = Depends(writer("users:write")),
                     idempotency_key: str | None = KEY) -> dict:
        if s.identity.tenant(caller.acting) is None:
            raise NotFound(f"tenant {caller.acting!r} not found", field="header.X-Tessera-Tenant")
        cmd = build(i.CreateUser, user_id=body.user_id, name=body.name, role=body.role)
        if not may_grant(caller.principal, caller.acting, body.role):
            raise Forbidden(f"role {caller.principal.role!r} may not grant {body.role!r} here", field="role")
        return await command(caller, "create_user", body.user_id, cmd, idempotency_key)

    @r.get("", response_model=Page[UserOut], summary="List users", responses=errors(400, 422))
    async def list_users(caller: Caller = Depends(reader("users:read")), p=Depends(paging),
                         role: str | None = Query(None, description="platform-admin|tenant-admin|member|viewer")
                         ) -> dict:
        got = s.identity.users(caller.scope, role=role, page_size=p.page_size, cursor=p.cursor)
        return page([user_out(v) for v in got.items], got.next_cursor)

    @r.get("/{user_id}", response_model=UserOut, summary="Get a user", responses=errors(404))
    async def get_user(user_id: str, caller: Caller = Depends(reader("users:read"))) -> dict:
        return user_out(find(caller.acting, user_id))

    @r.post("/{user_id}/role", status_code=202, response_model=Accepted, summary="Change a user's role",
            responses=errors(*COMMAND))
    async def change_role(user_id: str, body: ChangeRoleIn, caller: Caller = Depends(writer("users:write")),
                          idempotency_key: str | None = KEY) -> dict:
        view = find(caller.acting, user_id)
        cmd = build(i.ChangeRole, user_id=user_id, role=body.role)
        if not may_grant(caller.principal, caller.acting, body.role):
            raise Forbidden(f"role {caller.principal.role!r} may not grant {body.role!r} here", field="role")
        if view.role == body.role and not view.disabled:  # the domain decides nothing: answer without waiting
            return accepted(user_id, user_status(view), f"/v1/users/{user_id}")
        return await command(caller, "change_role", user_id, cmd, idempotency_key)

    @r.post("/{user_id}/disable", status_code=202, response_model=Accepted, summary="Disable a user",
            responses=errors(*COMMAND))
    async def disable(user_id: str, caller: Caller = Depends(writer("users:write")),
                      idempotency_key: str | None = KEY) -> dict:
        view = find(caller.acting, user_id)
        if view.disabled:  # disabling is final and idempotent: nothing to send
            return accepted(user_id, user_status(view), f"/v1/users/{user_id}")
        return await command(caller, "disable_user", user_id, build(i.DisableUser, user_id=user_id),
                             idempotency_key)

    return r
