"""/v1/audit: who did what to which object and when (ClickHouse), and /v1/audit/{kind}/{id} (the log).

`GET /v1/audit?actor=&kind=&object=&type=&from=&to=` lists the events of every
object, newest first, paged by (time, seq), from the `audit_events` table
(projections/clickhouse/audit_query.py). Scoped like every read: a caller's
own tenant; a platform admin every tenant's (or `?tenant=`). Members and
viewers see token events only where they were the actor (as in /v1/tokens).
`type` is a full wire type or an event name (`job_submitted`); an unknown
one, a time without a zone or `to` <= `from` is 422. Without a ClickHouse
client, or when the engine fails, it answers 503 `audit_unavailable`.

`/v1/audit/{kind}/{id}`: the audit trail of one object, i.e. its events from the log.

Under `?as_of=N` (gateway/http/asof.py) both answer the past: the search from
database `tessera_asof_<N>` when `tessera replay --until-seq N` built it, else
from the live `audit_events` rows with `seq <= N` (exact: a row is its event;
503 while the live projection has not stored N yet), see asof_clickhouse.py;
an object's trail keeps its events at or below N (the object itself is looked
up in the past read models).

Each event with its time, type, actor (who caused it), causation and data
(token hashes redacted). The object is looked up in the read models first and
scoped like every read: clusters and nodes (platform objects) are visible to
every role; jobs, workflows, users and tokens only in the caller's tenant
(platform admins: any, or `?tenant=` for users and tokens); a tenant to its
own members. Missing and foreign objects answer alike. A node's id is
`<cluster>--<node>`.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Depends, Query

from domains.identity.permissions import ADMINS
from gateway.http import events, timerange
from gateway.http.asof import as_of_seq
from gateway.http.asof_clickhouse import source
from gateway.http.auth import Caller, reader
from gateway.http.docs import errors
from gateway.http.errors import ApiError, Invalid, missing
from gateway.http.models import EventOut, Page
from gateway.http.pages import page, page_query
from gateway.http.services import Services
from projections.clickhouse.audit_query import AuditFilter, AuditUnavailable, audit_page
from schemas import (
    PLATFORM_TENANT,
    catalog,  # noqa: F401  (every message type registered: `type` names them)
    registry,
)
from schemas.base import Event
from schemas.envelope import SUBJECT_TOKEN

log = logging.getLogger("tessera.gateway")

Kind = Literal["cluster", "node", "job", "workflow", "tenant", "user", "token"]


class AuditEventOut(EventOut):
    tenant: str
    credential: str | None  # the token or API key id the actor used (None: a service, or before tokens were recorded)


def event_types(value: str) -> tuple[str, ...]:
    """A full wire type or an event name -> the registered event types it names; 422 if none."""
    found = tuple(t for t in registry.all_types() if issubclass(cls := registry.lookup(t), Event)
                  and value in (t, cls.type_name()))
    if not found:
        example = "a type like 'tessera.scheduling.job_submitted.v1' or a name like 'job_submitted'"
        raise Invalid([("type", f"unknown event type {value!r} ({example})")])
    return found


def router(s: Services) -> APIRouter:
    r = APIRouter(prefix="/v1/audit", tags=["audit"])
    paging = page_query(s.settings)

    @r.get("", response_model=Page[AuditEventOut], summary="Who did what to which object and when",
           description="Every object's events, newest first; filters combine (AND).",
           responses=errors(400, 409, 422, 503))
    async def search(caller: Caller = Depends(reader("audit:read")), p=Depends(paging),
                     actor: str | None = Query(None, max_length=512, description=(
                         "who: 'user:<tenant>/<user>' (any of their tokens), 'user:<tenant>/<user>#<token_id>', "
                         "'apikey:<tenant>/<key_id>'")),
                     kind: str | None = Query(None, pattern=SUBJECT_TOKEN, max_length=64,
                                              description="the object's kind (job, workflow, node, token, ...)"),
                     obj: str | None = Query(None, alias="object", max_length=256, description="the object's id"),
                     event_type: str | None = Query(None, alias="type", max_length=256,
                                                    description="an event type, or its name (job_placed)"),
                     start: datetime | None = Query(None, alias="from", description="ISO 8601, inclusive"),
                     end: datetime | None = Query(None, alias="to", description="ISO 8601, exclusive")) -> dict:
        timerange.check(start, end, timerange.DATETIME64)
        wanted = AuditFilter(tenant=caller.scope, actor=actor or None, aggregate=kind or None,
                             aggregate_id=obj or None, types=event_types(event_type) if event_type else (),
                             start=start, end=end,
                             private_of=None if caller.principal.role in ADMINS else caller.principal.actor)
        if s.clickhouse is None:
            raise ApiError("the audit log is not available: this gateway has no ClickHouse",
                           code="audit_unavailable", status=503)
        db, until = await source(s, tables=("audit_events",), live_exact=True, what="the audit log",
                                 code="audit_unavailable")
        try:
            items, cursor = await asyncio.to_thread(audit_page, s.clickhouse, db, replace(wanted, until_seq=until),
                                                    p.page_size, p.cursor)
        except AuditUnavailable as exc:
            log.warning("audit query failed: %s", exc)
            raise ApiError("the audit log is not available right now; try again", code="audit_unavailable",
                           status=503) from None
        return page(items, cursor)

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
        seq = as_of_seq()
        trail = await events.history(s.nc, tenant, kind, id)
        return page([e for e in trail if seq is None or e["seq"] <= seq], None)

    return r
