"""/v1/credits: a tenant's credits and discounts: grant and revoke (platform admins), list (the tenant's roles).

A credit is `GrantCredit` on the tenant's `billing` account aggregate: a
`percent` discount on each invoice's subtotal, or an `amount` consumed by
finalized invoices until used up (domains.billing.totals). Draft invoices
show the credits that apply to them at once (the billing read model prices
drafts with the account as it is now). Revoking (`RevokeCredit`) stops a
credit for every invoice finalized afterwards; finalized ones keep it.

Platform admins name the tenant with `X-Tessera-Tenant` (writes) or
`?tenant=` (the list). `credit_id` is the caller's, or derived from the
`Idempotency-Key` (a retry grants nothing twice), else random. Granting an
existing id with the same terms changes nothing; other terms answer 409
(`credit_conflict`). Revoking a credit this gateway does not know in the
tenant answers 404 (another tenant's id: the same answer); revoking twice is
a 202 with status `revoked`. Listed newest grant last, paged by position.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path
from pydantic import ValidationError

from gateway.http.auth import Caller, reader
from gateway.http.commands import accepted, build, execute
from gateway.http.docs import COMMAND, errors
from gateway.http.errors import ApiError, missing
from gateway.http.idempotency import key_header
from gateway.http.models import Accepted, Page
from gateway.http.models.billing import CreditIn, CreditOut
from gateway.http.pages import page, page_query
from gateway.http.routers.billing_access import platform_admin_in_tenant, target_tenant
from gateway.http.routers.invoices import tenant_of
from gateway.http.routers.ratecards import invalid
from gateway.http.services import Services
from projections.registry.paging import InvalidQuery, decode_cursor, encode_cursor
from schemas import billing as bl
from schemas import derived_id

KEY = key_header("credit")


def link(credit_id: str) -> str:
    return f"/v1/credits/{credit_id}"


def router(s: Services) -> APIRouter:
    r = APIRouter(prefix="/v1/credits", tags=["billing"])
    paging = page_query(s.settings)

    def model():
        billing = getattr(s, "billing", None)
        if billing is None:
            raise ApiError("billing is not available on this gateway", code="billing_unavailable", status=503)
        return billing

    def status(account, credit: bl.CreditGranted) -> str:
        now = s.clock()
        if credit.credit_id in account.revoked:
            return "revoked"
        if credit.valid_until is not None and credit.valid_until <= now:
            return "expired"
        return "scheduled" if credit.valid_from > now else "active"

    def credit_out(tenant: str, credit: bl.CreditGranted, account, used) -> dict:
        spent = used.get(credit.credit_id) if credit.kind == "amount" else None
        return {"credit_id": credit.credit_id, "tenant": tenant, "kind": credit.kind,
                "percent": None if credit.percent is None else str(credit.percent),
                "amount": None if credit.amount is None else str(credit.amount),
                "used": None if credit.kind != "amount" else str(spent if spent is not None else "0.00"),
                "currency": credit.currency, "valid_from": credit.valid_from, "valid_until": credit.valid_until,
                "description": credit.description, "status": status(account, credit), "link": link(credit.credit_id)}

    @r.post("", status_code=202, response_model=Accepted, summary="Grant a credit or discount (platform admins)",
            responses=errors(*COMMAND))
    async def grant(body: CreditIn, caller: Caller = Depends(platform_admin_in_tenant("grant credits")),
                    idempotency_key: str | None = KEY) -> dict:
        tenant = target_tenant(s, caller)
        ids = s.idempotency.ids("grant_credit", tenant, caller.user_id, idempotency_key, body.model_dump_json(),
                                object_id=body.credit_id)
        credit_id = ids.object_id
        known = model().account(tenant).credits.get(credit_id)
        # a retry without valid_from means the first grant's start, not a new one (that would be a conflict)
        valid_from = body.valid_from or (known.valid_from if known is not None else s.clock())
        try:
            cmd = bl.GrantCredit(tenant=tenant, credit_id=credit_id, kind=body.kind, percent=body.percent,
                                 amount=body.amount, currency=body.currency, valid_from=valid_from,
                                 valid_until=body.valid_until, description=body.description)
        except ValidationError as exc:
            raise invalid(exc) from None
        command_id = ids.command_id if ids.keyed else derived_id("grant_credit", tenant, credit_id,
                                                                 cmd.model_dump_json())
        outcome = await execute(s, caller.actor, tenant, cmd, command_id)
        known = model().account(tenant).credits.get(credit_id)
        return accepted(credit_id, "active" if known is not None else None, link(credit_id), outcome)

    @r.get("", response_model=Page[CreditOut], summary="List the tenant's credits and discounts",
           responses=errors(400, 422, 503))
    async def list_credits(caller: Caller = Depends(reader("usage:read")), p=Depends(paging)) -> dict:
        tenant = tenant_of(caller)
        billing = model()
        account, used = billing.account(tenant), billing.credit_used(tenant)
        after = decode_cursor(p.cursor)
        if after is not None and (len(after) != 1 or not isinstance(after[0], int)):
            raise InvalidQuery("cursor", "malformed cursor")
        start = after[0] if after is not None else 0
        credits = list(account.credits.values())
        chosen = credits[start:start + p.page_size]
        more = len(credits) > start + p.page_size
        return page([credit_out(tenant, c, account, used) for c in chosen],
                    encode_cursor((start + p.page_size,)) if more else None)

    @r.delete("/{credit_id}", status_code=202, response_model=Accepted,
              summary="Revoke a credit (platform admins)", responses=errors(*COMMAND))
    async def revoke(credit_id: str = Path(description="the credit's id"),
                     caller: Caller = Depends(platform_admin_in_tenant("revoke credits"))) -> dict:
        tenant = target_tenant(s, caller)
        account = model().account(tenant)
        if credit_id not in account.credits:
            raise missing("credit", credit_id)
        if credit_id in account.revoked:  # nothing to send: DELETE is idempotent
            return accepted(credit_id, "revoked", link(credit_id))
        cmd = build(bl.RevokeCredit, tenant=tenant, credit_id=credit_id)
        outcome = await execute(s, caller.actor, tenant, cmd, derived_id("revoke_credit", tenant, credit_id))
        revoked = credit_id in model().account(tenant).revoked
        return accepted(credit_id, "revoked" if revoked else None, link(credit_id), outcome)

    return r
