"""/v1/invoices (list, get with lines, CSV/JSON export, void) and /v1/usage/preview (the draft from ClickHouse).

Invoices come from the billing read model (projections.billing.BillingModel,
`services.billing`); the preview from the USAGE projection's daily rollup
(projections.usage.queries.preview, priced with the rate cards in
`services.ratecards`). Scoped like every read: a caller sees their own
tenant's invoices; a platform admin names one with `?tenant=` (without it:
422, field `tenant`). Another tenant's invoice id answers exactly like a
missing one (404). Without a billing model, ClickHouse or rate cards the
routes answer 503 (`billing_unavailable` / `usage_unavailable`). Under
`?as_of=N` the preview reads database `tessera_asof_<N>` when it holds the
rollup, else answers 409 `as_of_unavailable` (gateway/http/asof_clickhouse.py).

Export: `GET /v1/invoices/{id}/export?format=csv|json` (or `?format=csv` on
the invoice itself): CSV has one row per line, then `credit`, `subtotal` and
`total` rows; amounts are the invoice's own exact decimals (cents).

Void: `POST /v1/invoices/{id}/void {reason}` (platform admins, the tenant
named by `X-Tessera-Tenant`) sends `VoidInvoice`; a draft or a finalized
invoice becomes void (it keeps its figures and shows the reason) and answers
202 once this gateway's billing model shows it. Voiding a void invoice
answers 409 (`illegal_invoice_transition`), a missing or foreign one 404.
With an `Idempotency-Key`, a retry of an applied void answers 202 again.
"""

from __future__ import annotations

import asyncio
import csv
import io
import logging
from datetime import UTC, datetime
from typing import Literal

from fastapi import APIRouter, Depends, Query
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response

from domains.billing.errors import BillingError
from domains.billing.periods import KINDS, period_of
from gateway.http.asof import as_of_now
from gateway.http.asof_clickhouse import source
from gateway.http.auth import Caller, reader
from gateway.http.commands import accepted, already_applied, build, execute
from gateway.http.docs import COMMAND, errors
from gateway.http.errors import ApiError, Conflict, Invalid, missing
from gateway.http.idempotency import key_header
from gateway.http.models import Accepted
from gateway.http.models.billing import VoidIn
from gateway.http.pages import page, page_query
from gateway.http.routers.billing_access import platform_admin_in_tenant, target_tenant
from gateway.http.services import Services
from schemas.billing import VoidInvoice

log = logging.getLogger("tessera.gateway")
CSV_COLUMNS = ("invoice_id", "period", "status", "row", "line_id", "kind", "item", "rate_card_version", "unit",
               "priced_unit", "quantity", "currency", "amount")


def summary(v) -> dict:
    return {"id": v.invoice_id, "tenant": v.tenant, "period": v.period, "period_start": v.period_start,
            "period_end": v.period_end, "status": v.status, "currency": v.currency, "subtotal": str(v.subtotal),
            "total": str(v.total), "records": v.records, "link": f"/v1/invoices/{v.invoice_id}"}


def detail(v) -> dict:
    return {**summary(v), "lines": [line.model_dump(mode="json") for line in v.lines],
            "credits": [c.model_dump(mode="json") for c in v.credits],
            "unrated": [u.model_dump(mode="json") for u in v.unrated],
            "finalized_at": v.finalized_at, "void_reason": v.void_reason}


def to_csv(v) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    head = (v.invoice_id, v.period, v.status)
    for p in v.lines:
        ln = p.line
        w.writerow((*head, "line", ln.line_id, ln.kind, ln.item, ln.rate_card_version, ln.unit, ln.priced_unit,
                    p.quantity, ln.currency, p.amount))
    for c in v.credits:
        w.writerow((*head, "credit", c.credit_id, c.kind, "", "", "", "", "", v.currency, -c.amount))
    w.writerow((*head, "subtotal", "", "", "", "", "", "", "", v.currency, v.subtotal))
    w.writerow((*head, "total", "", "", "", "", "", "", "", v.currency, v.total))
    return out.getvalue()


def export(v, fmt: str) -> Response:
    if fmt == "csv":
        return Response(to_csv(v), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{v.tenant}-{v.invoice_id}.csv"'})
    return JSONResponse(jsonable_encoder(detail(v)),
                        headers={"Content-Disposition": f'attachment; filename="{v.tenant}-{v.invoice_id}.json"'})


def tenant_of(caller: Caller) -> str:
    if caller.scope is None:
        raise Invalid([("tenant", "required for platform admins: name the tenant with ?tenant=")])
    return caller.scope


def router(s: Services) -> APIRouter:
    r = APIRouter(tags=["invoices"])
    paging = page_query(s.settings)

    def model():
        billing = getattr(s, "billing", None)
        if billing is None:
            raise ApiError("invoices are not available on this gateway", code="billing_unavailable", status=503)
        return billing

    def found(caller: Caller, invoice_id: str):
        view = model().invoice(tenant_of(caller), invoice_id)
        if view is None:
            raise missing("invoice", invoice_id)
        return view

    @r.get("/v1/invoices", summary="List invoices (newest period first)", responses=errors(400, 422, 503))
    async def list_invoices(caller: Caller = Depends(reader("usage:read")), p=Depends(paging),
                            status: Literal["draft", "finalized", "void"] | None = None,
                            period: str | None = Query(None, description="e.g. 2026-11")) -> dict:
        got = model().invoices(tenant_of(caller), status=status, period=period, page_size=p.page_size,
                               cursor=p.cursor)
        return page([summary(v) for v in got.items], got.next_cursor)

    @r.get("/v1/invoices/{invoice_id}", summary="Get an invoice with its lines", responses=errors(404, 422, 503))
    async def get_invoice(invoice_id: str, caller: Caller = Depends(reader("usage:read")),
                          format: Literal["json", "csv"] = "json"):
        view = found(caller, invoice_id)
        return export(view, "csv") if format == "csv" else detail(view)

    @r.get("/v1/invoices/{invoice_id}/export", summary="Export an invoice as CSV or JSON",
           responses=errors(404, 422, 503))
    async def export_invoice(invoice_id: str, caller: Caller = Depends(reader("usage:read")),
                             format: Literal["json", "csv"] = "csv"):
        return export(found(caller, invoice_id), format)

    @r.post("/v1/invoices/{invoice_id}/void", status_code=202, response_model=Accepted,
            summary="Void an invoice (platform admins)", responses=errors(*COMMAND))
    async def void_invoice(invoice_id: str, body: VoidIn,
                           caller: Caller = Depends(platform_admin_in_tenant("void invoices")),
                           idempotency_key: str | None = key_header("void")):
        tenant = target_tenant(s, caller)
        view = model().invoice(tenant, invoice_id)
        if view is None:
            raise missing("invoice", invoice_id)
        link = f"/v1/invoices/{invoice_id}"
        ids = s.idempotency.ids("void_invoice", tenant, caller.user_id, idempotency_key, body.reason,
                                object_id=invoice_id)
        on = (tenant, "invoice", invoice_id)
        if ids.keyed and await already_applied(s, ids.command_id, on):
            return accepted(invoice_id, model().invoice(tenant, invoice_id).status, link)
        if view.status == "void":
            raise Conflict(f"status: invoice {invoice_id} is already void", field="status",
                           reason="illegal_invoice_transition")
        command = build(VoidInvoice, invoice_id=invoice_id, reason=body.reason)
        try:
            outcome = await execute(s, caller.actor, tenant, command, ids.command_id, on=on if ids.keyed else None)
        except ApiError as exc:  # voided meanwhile (another replica): a state conflict, like the check above
            if exc.extra.get("reason") == "illegal_invoice_transition":
                raise Conflict(exc.message, field=exc.field, reason="illegal_invoice_transition") from None
            raise
        return accepted(invoice_id, model().invoice(tenant, invoice_id).status, link, outcome)

    @r.get("/v1/usage/preview", summary="The current period's draft invoice, from ClickHouse rollups",
           responses=errors(409, 422, 503))
    async def preview(caller: Caller = Depends(reader("usage:read")),
                      period: str = Query("monthly", description=f"one of {', '.join(KINDS)}"),
                      at: datetime | None = Query(None, description=(
                          "an instant in the period (default: now; under as_of, when that event was stored)"))):
        from projections.usage.queries import preview as preview_query

        tenant = tenant_of(caller)
        if at is not None and at.tzinfo is None:
            raise Invalid([("at", "needs a timezone (e.g. 2026-11-05T00:00:00Z)")])
        try:
            p = period_of(at or as_of_now(s.clock).astimezone(UTC), period)
        except BillingError as exc:
            raise Invalid([("period", f"must be one of {', '.join(KINDS)}")]) from exc
        cards = getattr(s, "ratecards", None)
        if s.clickhouse is None or cards is None:
            raise ApiError("usage is not available: this gateway has no ClickHouse", code="usage_unavailable",
                           status=503)
        db, _ = await source(s, tables=("rated_usage_daily",), live_exact=False, what="the usage preview",
                             code="usage_unavailable")
        try:
            result = await asyncio.to_thread(preview_query, s.clickhouse, db, cards, tenant, p)
        except Exception as exc:  # the engine's errors, whatever their class
            log.warning("usage preview failed: %s", exc)
            raise ApiError("usage is not available right now; try again", code="usage_unavailable",
                           status=503) from None
        return {"tenant": tenant, "period": p.key, "period_start": p.start, "period_end": p.end,
                "status": "preview",
                "lines": [{"kind": x.kind, "item": x.item, "rate_card_version": x.rate_card_version,
                           "currency": x.currency, "unit": x.unit, "priced_unit": x.priced_unit,
                           "scheme": x.scheme, "records": x.records, "quantity": format(x.quantity, "f"),
                           "amount": None if x.amount is None else str(x.amount)} for x in result.lines],
                "subtotal": {c: str(v) for c, v in result.subtotal.items()}}

    return r
