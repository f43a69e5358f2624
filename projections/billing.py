"""Invoices read model: list by tenant/status/period, get one with its lines and totals.

A projection for `ProjectionRunner` (aggregates invoice, billing and budget):
it folds each invoice with `domains.billing.invoice`, each tenant's account
(credits, budget) with `domains.billing.account` and the budget alerts
(`BudgetThresholdCrossed`, aggregate `budget`, id = period), and answers:

- `invoices(tenant, status=None, period=None, page_size=50, cursor=None)`:
  `Page[InvoiceSummary]`, newest period first (cursor = the last period key);
- `invoice(tenant, invoice_id) -> InvoiceView | None` (None for another
  tenant's id too: the caller cannot tell foreign from missing);
- `account(tenant)` (credits, revoked ids, the budget in force and its
  revision), `budget_set_by(tenant)` (who set that budget, from the
  envelope's actor: the gateway's rule on lifting a platform admin's hard
  budget reads it), `alerts(tenant, period)` (the thresholds crossed),
  `current(tenant, now)` (the invoice whose period holds `now`) and
  `credit_used(tenant)` (what finalized invoices applied of each amount credit).
The state is plain data (dicts, frozen dataclasses, pydantic events): it
pickles into a snapshot, and `state_hash` covers all of it.

A finalized invoice shows exactly what `InvoiceFinalized` froze; a draft shows
a preview priced the same way (`domains.billing.totals`, credits as of now);
a void one keeps the figures it had and its reason. `apply(env, seq)` is a
no-op at or below the position, so replays and redeliveries change nothing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

import orjson

from domains.billing import account as acc
from domains.billing.invoice import InvoiceState, evolve
from domains.billing.totals import consumed, totals
from projections.registry.paging import InvalidQuery, Page, decode_cursor, encode_cursor
from schemas import Envelope
from schemas.billing import (
    AppliedCredit,
    BudgetSet,
    BudgetThresholdCrossed,
    InvoiceOpened,
    PricedLine,
    UnratedUsage,
)

STATUSES = ("draft", "finalized", "void")
MAX_PAGE = 500


@dataclass(frozen=True)
class InvoiceSummary:
    invoice_id: str
    tenant: str
    period: str
    period_start: datetime
    period_end: datetime
    status: str
    currency: str
    subtotal: Decimal
    total: Decimal
    records: int


@dataclass(frozen=True)
class InvoiceView(InvoiceSummary):
    lines: list[PricedLine]
    credits: list[AppliedCredit]
    unrated: list[UnratedUsage]
    finalized_at: datetime | None
    void_reason: str | None


@dataclass(frozen=True)
class BudgetAlert:
    period: str
    threshold: int
    limit: Decimal
    spent: Decimal
    currency: str
    mode: str
    budget_revision: int
    time: datetime


class BillingModel:
    name = "billing"
    aggregates = frozenset({"invoice", "billing", "budget"})

    def __init__(self) -> None:
        self._invoices: dict[str, dict[str, InvoiceState]] = {}  # tenant -> invoice id -> state
        self._accounts: dict[str, acc.AccountState] = {}  # credits kept as a dict: a mappingproxy cannot pickle
        self._budget_by: dict[str, tuple[str, datetime]] = {}  # tenant -> (actor, time) of its last BudgetSet
        self._alerts: dict[str, dict[str, list[BudgetAlert]]] = {}  # tenant -> period -> crossings
        self._position = 0

    def position(self) -> int:
        return self._position

    def reset(self) -> None:
        self.__init__()  # type: ignore[misc]

    def apply(self, env: Envelope, seq: int) -> bool:
        if seq <= self._position:
            return False
        if env.aggregate == "invoice":
            states = self._invoices.setdefault(env.tenant, {})
            state = states.get(env.aggregateid)
            if state is not None or isinstance(env.data, InvoiceOpened):
                new = evolve(state or InvoiceState(), env.data)  # mappings as dicts: a mappingproxy cannot pickle
                states[env.aggregateid] = replace(new, lines=dict(new.lines), quantities=dict(new.quantities))
        elif env.aggregate == "billing":
            state = acc.evolve_envelope(self._accounts.get(env.tenant) or acc.AccountState(tenant=env.tenant), env)
            self._accounts[env.tenant] = replace(state, credits=dict(state.credits))
            if isinstance(env.data, BudgetSet):
                self._budget_by[env.tenant] = (env.actor, env.time)
        elif env.aggregate == "budget" and isinstance(env.data, BudgetThresholdCrossed):
            e = env.data
            self._alerts.setdefault(env.tenant, {}).setdefault(e.period, []).append(BudgetAlert(
                e.period, e.threshold, e.limit, e.spent, e.currency, e.mode, e.budget_revision, env.time))
        self._position = seq
        return True

    def apply_batch(self, batch) -> int:
        return sum(self.apply(env, seq) for env, seq in batch)

    def state_hash(self) -> str:
        digest = hashlib.sha256(f"{self.name}@{self._position}".encode())
        for tenant in sorted(self._invoices):
            for invoice_id in sorted(self._invoices[tenant]):
                view = self.invoice(tenant, invoice_id)
                digest.update(orjson.dumps(_plain(view), default=str))
        for tenant in sorted(self._accounts):
            a = self._accounts[tenant]
            digest.update(orjson.dumps([tenant, [c.model_dump(mode="json") for c in a.credits.values()],
                                        sorted(a.revoked), a.budget and a.budget.model_dump(mode="json"),
                                        a.budget_revision, self._budget_by.get(tenant)], default=str))
        for tenant in sorted(self._alerts):
            for period in sorted(self._alerts[tenant]):
                digest.update(orjson.dumps([tenant, period, self._alerts[tenant][period]], default=str))
        return digest.hexdigest()

    # -- reads ----------------------------------------------------------------------------------
    def invoice(self, tenant: str, invoice_id: str) -> InvoiceView | None:
        state = self._invoices.get(tenant, {}).get(invoice_id)
        return None if state is None else self._view(tenant, state)

    def invoices(self, tenant: str, *, status: str | None = None, period: str | None = None,
                 page_size: int = 50, cursor: str | None = None) -> Page[InvoiceSummary]:
        if status is not None and status not in STATUSES:
            raise InvalidQuery("status", f"must be one of {', '.join(STATUSES)}")
        if not 1 <= page_size <= MAX_PAGE:
            raise InvalidQuery("page_size", f"must be between 1 and {MAX_PAGE}")
        after = decode_cursor(cursor)
        if after is not None and (len(after) != 1 or not isinstance(after[0], str)):
            raise InvalidQuery("cursor", "malformed cursor")
        states = sorted(self._invoices.get(tenant, {}).values(), key=lambda s: s.opened.period, reverse=True)
        picked = [s for s in states if (status is None or s.status == status)
                  and (period is None or s.opened.period == period)
                  and (after is None or s.opened.period < after[0])]
        page = picked[:page_size]
        more = len(picked) > page_size
        items = [_summary(self._view(tenant, s)) for s in page]
        return Page(items, encode_cursor((page[-1].opened.period,)) if more else None)

    def account(self, tenant: str) -> acc.AccountState:
        return self._accounts.get(tenant) or acc.AccountState(tenant=tenant)

    def budget_set_by(self, tenant: str) -> tuple[str, datetime] | None:
        return self._budget_by.get(tenant)

    def alerts(self, tenant: str, period: str) -> list[BudgetAlert]:
        return list(self._alerts.get(tenant, {}).get(period, ()))

    def current(self, tenant: str, now: datetime) -> InvoiceView | None:
        """The tenant's invoice whose period holds `now` (the one spend accrues to), if there is one."""
        for state in self._invoices.get(tenant, {}).values():
            if state.status != "void" and state.opened.period_start <= now < state.opened.period_end:
                return self._view(tenant, state)
        return None

    def credit_used(self, tenant: str) -> dict[str, Decimal]:
        return consumed(self._invoices.get(tenant, {}).values())

    def _view(self, tenant: str, state: InvoiceState) -> InvoiceView:
        opened = state.opened
        if state.finalized is not None:
            f = state.finalized
            lines, credits, subtotal, total, at = f.lines, f.credits, f.subtotal, f.total, f.finalized_at
        else:
            account = self._accounts.get(tenant) or acc.AccountState(tenant=tenant)
            money = totals(state, account, consumed(self._invoices.get(tenant, {}).values()))
            lines, credits, subtotal, total, at = money.lines, money.credits, money.subtotal, money.total, None
        return InvoiceView(invoice_id=opened.invoice_id, tenant=tenant, period=opened.period,
                           period_start=opened.period_start, period_end=opened.period_end, status=state.status,
                           currency=opened.currency, subtotal=subtotal, total=total, records=state.records,
                           lines=list(lines), credits=list(credits), unrated=list(state.unrated),
                           finalized_at=at, void_reason=state.void_reason)


def _summary(view: InvoiceView) -> InvoiceSummary:
    return InvoiceSummary(**{k: getattr(view, k) for k in InvoiceSummary.__dataclass_fields__})


def _plain(view: InvoiceView) -> dict:
    out = {k: getattr(view, k) for k in InvoiceSummary.__dataclass_fields__}
    out["lines"] = [line.model_dump(mode="json") for line in view.lines]
    out["credits"] = [c.model_dump(mode="json") for c in view.credits]
    out["unrated"] = [u.model_dump(mode="json") for u in view.unrated]
    return out
