"""/v1/audit/{kind}/{id}: the audit trail of one object, i.e. its events from the log.

Each event with its time, type, actor (who caused it), causation and data
(token hashes redacted). The object is looked up in the read models first and
scoped like every read: clusters and nodes (platform objects) are visible to
every role; jobs, workflows, users and tokens only in the caller's tenant
(platform admins: any, or `?tenant=` for users and tokens); a tenant to its
own members. Missing and foreign objects answer alike. A node's id is
`<cluster>--<node>`.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends

from domains.identity.permissions import ADMINS
from gateway.http import events
from gateway.http.auth import Caller, reader
from gateway.http.docs import errors
from gateway.http.errors import missing
from gateway.http.models import EventOut, Page
from gateway.http.pages import page
from gateway.http.services import Services
from schemas import PLATFORM_TENANT

Kind = Literal["cluster", "node", "job", "workflow", "tenant", "user", "token"]


def router(s: Services) -> APIRouter:
    r = APIRouter(prefix="/v1/audit", tags=["audit"])

    def locate(caller: Caller, kind: str, id: str) -> str | None:
        """The tenant the object's events live under, or None if the caller cannot see it."""
        if kind == "cluster":
            return PLATFORM_TENANT if s.registry.clusters.get(id) else None
        if kind == "node":
            return PLATFORM_TENANT if s.registry.nodes.get(id) else None
        if kind in ("job", "workflow"):
            view = (s.registry.jobs if kind == "job" else s.registry.workflows).get(id)
            return view.tenant if view is not None and caller.owns(view.tenant) else None
        if kind == "tenant":
            visible = caller.principal.is_platform_admin or caller.principal.tenant == id
            return PLATFORM_TENANT if visible and s.identity.tenant(id) else None
        if kind == "user":
            return caller.acting if s.identity.user(caller.acting, id) is not None else None
        token = s.identity.token(caller.acting, id)
        mine = token is not None and (caller.principal.role in ADMINS or token.user_id == caller.user_id)
        return caller.acting if mine else None  # members see their own tokens only, as in /v1/tokens

    @r.get("/{kind}/{id}", response_model=Page[EventOut], summary="An object's events (its audit trail)",
           responses=errors(404, 422))
    async def audit(kind: Kind, id: str, caller: Caller = Depends(reader("audit:read"))) -> dict:
        tenant = locate(caller, kind, id)
        if tenant is None:
            raise missing(kind, id)
        return page(await events.history(s.nc, tenant, kind, id), None)

    return r
