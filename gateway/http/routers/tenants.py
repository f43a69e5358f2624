"""/v1/tenants: create (platform admins), list and get.

A platform admin sees every tenant; anyone else only their own (another
tenant's name answers like a missing one).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends

from gateway.http.auth import Caller, reader, writer
from gateway.http.commands import accepted, build, execute
from gateway.http.docs import COMMAND, errors
from gateway.http.errors import missing
from gateway.http.idempotency import key_header
from gateway.http.models import Accepted, CreateTenantIn, Page, TenantOut
from gateway.http.pages import page, page_query
from gateway.http.services import Services
from schemas import PLATFORM_TENANT
from schemas import identity as i

KEY = key_header("answer")


def tenant_out(v) -> dict:
    return {"tenant": v.name, "display_name": v.display_name, "created_at": v.created_at,
            "link": f"/v1/tenants/{v.name}"}


def router(s: Services) -> APIRouter:
    r = APIRouter(prefix="/v1/tenants", tags=["tenants"])
    paging = page_query(s.settings)

    @r.post("", status_code=202, response_model=Accepted, summary="Create a tenant", responses=errors(*COMMAND))
    async def create(body: CreateTenantIn, caller: Caller = Depends(writer("tenants:write")),
                     idempotency_key: str | None = KEY) -> dict:
        command = build(i.CreateTenant, tenant=body.tenant, display_name=body.display_name)
        ids = s.idempotency.ids("create_tenant", PLATFORM_TENANT, caller.user_id, idempotency_key,
                                command.model_dump_json(), object_id=body.tenant)
        on = (PLATFORM_TENANT, "tenant", body.tenant) if ids.keyed and s.identity.tenant(body.tenant) else None
        outcome = await execute(s, caller.actor, PLATFORM_TENANT, command, ids.command_id, on=on)
        status = "active" if s.identity.tenant(body.tenant) else None
        return accepted(body.tenant, status, f"/v1/tenants/{body.tenant}", outcome)

    @r.get("", response_model=Page[TenantOut], summary="List tenants", responses=errors(400, 422))
    async def list_tenants(caller: Caller = Depends(reader("tenants:read")), p=Depends(paging)) -> dict:
        if caller.scope is not None:  # one tenant in scope: at most one item
            view = s.identity.tenant(caller.scope)
            return page([tenant_out(view)] if view else [], None)
        got = s.identity.tenants(page_size=p.page_size, cursor=p.cursor)
        return page([tenant_out(v) for v in got.items], got.next_cursor)

    @r.get("/{name}", response_model=TenantOut, summary="Get a tenant", responses=errors(404))
    async def get_tenant(name: str, caller: Caller = Depends(reader("tenants:read"))) -> dict:
        visible = caller.principal.is_platform_admin or caller.principal.tenant == name
        view = s.identity.tenant(name) if visible else None
        if view is None:
            raise missing("tenant", name)
        return tenant_out(view)

    return r
