"""Invoices read model: list by tenant/status/period, get one with its lines and totals.

A projection for `ProjectionRunner` (aggregates invoice and billing): it folds
each invoice with `domains.billing.invoice` and each tenant's account (credits)
with `domains.billing.account`, and answers:

- `invoices(tenant, status=None, period=None, page_size=50, cursor=None)`:
  `Page[InvoiceSummary]`, newest period first (cursor = the last period key);
- `invoice(tenant, invoice_id) -> InvoiceView | None` (None for another
  tenant's id too: the caller cannot tell foreign from missing).

A finalized invoice shows exactly what `InvoiceFinalized` froze; a draft shows
a preview priced the same way (`domains.billing.totals`, credits as of now);
a void one keeps the figures it had and its reason. `apply(env, seq)` is a
no-op at or below the position, so replays and redeliveries change nothing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import orjson

from domains.billing import account as acc
from domains.billing.invoice import InvoiceState, evolve
from domains.billing.totals import consumed, totals
from projections.registry.paging import InvalidQuery, Page, decode_cursor, encode_cursor
from schemas import Envelope
from schemas.billing import AppliedCredit, InvoiceOpened, PricedLine, UnratedUsage

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


class BillingModel:
    name = "billing"
    aggregates = frozenset({"invoice", "billing"})

    def __init__(self) -> None:
        self._invoices: dict[str, dict[str, InvoiceState]] = {}  # tenant -> invoice id -> state
        self._accounts: dict[str, acc.AccountState] = {}
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
                states[env.aggregateid] = evolve(state or InvoiceState(), env.data)
        elif env.aggregate == "billing":
            self._accounts[env.tenant] = acc.evolve_envelope(
                self._accounts.get(env.tenant) or acc.AccountState(tenant=env.tenant), env)
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
