"""/v1/budget: the tenant's spend budget per billing period: read it with this period's spend, set it, clear it.

`GET` (every role of the tenant; a platform admin names it with `?tenant=`)
answers the budget in force (amount, currency, mode, revision, who set it),
the current period's spend (the total so far of the tenant's invoice whose
period holds now, after credits: what the billing consumer compares with the
budget) and the 50/80/100% thresholds it crossed this period under this
budget (`BudgetThresholdCrossed`, written by the billing consumer).

`PUT {amount|null, currency, mode}` sends `SetBudget` (the `billing` account
aggregate of the tenant) and answers `202 {id: tenant, status, link}` once
this gateway's billing model shows it; `amount: null` (or `DELETE`) clears
it. A budget equal to the one in force changes nothing (202 at once). Tenant
admins set their own tenant's; platform admins any tenant's (named with
`X-Tessera-Tenant`). Hard budgets set by a platform admin are the platform's
to lift: while the budget in force is `hard` and was set by a platform admin,
only a platform admin may change or clear it (403 for a tenant admin). A
tenant admin's own hard budget is theirs to change. The rule is checked
against this gateway's billing model (who set the budget in force).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends

from gateway.http.asof import as_of_now
from gateway.http.auth import Caller, reader
from gateway.http.commands import accepted, build, execute
from gateway.http.docs import COMMAND, errors
from gateway.http.errors import ApiError, Forbidden
from gateway.http.models import Accepted
from gateway.http.models.billing import BudgetIn, BudgetOut
from gateway.http.routers.billing_access import HEADER, billing_admin, target_tenant
from gateway.http.routers.invoices import tenant_of
from gateway.http.services import Services
from schemas import PLATFORM_TENANT, derived_id
from schemas.billing import SetBudget

LINK = "/v1/budget"
ZERO = "0.00"


def _platform_actor(actor: str) -> bool:
    return actor.startswith(f"user:{PLATFORM_TENANT}/")


def router(s: Services) -> APIRouter:
    r = APIRouter(prefix="/v1/budget", tags=["billing"])

    def model():
        billing = getattr(s, "billing", None)
        if billing is None:
            raise ApiError("billing is not available on this gateway", code="billing_unavailable", status=503)
        return billing

    def budget_out(tenant: str) -> dict:
        billing = model()
        account = billing.account(tenant)
        budget = account.budget
        set_by = billing.budget_set_by(tenant) if budget is not None else None
        current = billing.current(tenant, as_of_now(s.clock))
        alerts = [] if current is None or budget is None else [
            {"threshold": a.threshold, "spent": str(a.spent), "limit": str(a.limit), "mode": a.mode, "time": a.time}
            for a in billing.alerts(tenant, current.period) if a.budget_revision == account.budget_revision]
        return {"tenant": tenant, "amount": None if budget is None else str(budget.amount),
                "currency": budget.currency if budget else (current.currency if current else "USD"),
                "mode": budget.mode if budget else "soft", "revision": account.budget_revision,
                "set_by": set_by[0] if set_by else None, "set_at": set_by[1] if set_by else None,
                "period": current.period if current else None, "spent": str(current.total) if current else ZERO,
                "alerts": alerts}

    async def change(caller: Caller, body: BudgetIn) -> dict:
        tenant = target_tenant(s, caller)
        billing = model()
        account = billing.account(tenant)
        in_force, set_by = account.budget, billing.budget_set_by(tenant)
        if (in_force is not None and in_force.mode == "hard" and set_by is not None and _platform_actor(set_by[0])
                and not caller.principal.is_platform_admin):
            raise Forbidden("this hard budget was set by a platform admin: only a platform admin may change it",
                            field="mode")
        command = build(SetBudget, tenant=tenant, amount=body.amount, currency=body.currency, mode=body.mode)
        amount = "none" if body.amount is None else str(body.amount.normalize())
        # the revision in the id: setting A, then B, then A again is three commands, not a repeat of the first
        command_id = derived_id("set_budget", tenant, amount, body.currency, body.mode, str(account.budget_revision))
        outcome = await execute(s, caller.actor, tenant, command, command_id)
        status = "set" if model().account(tenant).budget is not None else "none"
        return accepted(tenant, status, LINK, outcome)

    @r.get("", response_model=BudgetOut, summary="The tenant's budget, this period's spend and alerts",
           responses=errors(422, 503))
    async def get_budget(caller: Caller = Depends(reader("usage:read"))) -> dict:
        return budget_out(tenant_of(caller))

    @r.put("", status_code=202, response_model=Accepted, summary="Set the tenant's budget (null amount: none)",
           description=f"Tenant admins: their tenant; platform admins: the tenant named by `{HEADER[7:]}`.",
           responses=errors(*COMMAND))
    async def set_budget(body: BudgetIn, caller: Caller = Depends(billing_admin("set the budget"))) -> dict:
        return await change(caller, body)

    @r.delete("", status_code=202, response_model=Accepted, summary="Clear the tenant's budget",
              responses=errors(*COMMAND))
    async def clear_budget(caller: Caller = Depends(billing_admin("clear the budget"))) -> dict:
        return await change(caller, BudgetIn(amount=None))

    return r
