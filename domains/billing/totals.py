"""An invoice's money: priced lines, credits and discounts, totals. Pure and exact.

Rules (schemas/billing.py): each line = its exact priced amount rounded once
to the cent (ROUND_HALF_EVEN); subtotal = sum of the rounded lines. Credits
that apply to the invoice: granted in the invoice's currency, not revoked,
valid for part of the period (valid_from < period end, valid_until > period
start). Percent discounts first, each `cents(subtotal x p / 100)`, together
at most the subtotal; then amount credits in grant order, each at most its
balance (granted minus what finalized, non-void invoices applied) and at most
what is left. total = subtotal - credits >= 0.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from domains.billing.account import AccountState
from domains.billing.invoice import InvoiceState
from domains.billing.pricing import cents, line_amount
from schemas.billing import AppliedCredit, CreditGranted, PricedLine

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Totals:
    lines: list[PricedLine]
    subtotal: Decimal
    credits: list[AppliedCredit]
    total: Decimal


def priced_lines(state: InvoiceState) -> list[PricedLine]:
    out = []
    for line_id, line in state.lines.items():
        quantity = state.quantities.get(line_id, Decimal(0))
        out.append(PricedLine(line=line, quantity=quantity, amount=line_amount(line.price, quantity, line.unit)))
    return out


def applicable(account: AccountState, state: InvoiceState) -> list[CreditGranted]:
    opened = state.opened
    if opened is None:
        return []
    return [c for c in account.credits.values()
            if c.credit_id not in account.revoked and c.currency == opened.currency
            and c.valid_from < opened.period_end and (c.valid_until is None or c.valid_until > opened.period_start)]


def consumed(finalized: Iterable[InvoiceState]) -> dict[str, Decimal]:
    """Per amount credit, what finalized (not void) invoices already applied."""
    used: dict[str, Decimal] = {}
    for inv in finalized:
        if inv.status == "finalized" and inv.finalized is not None:
            for applied in inv.finalized.credits:
                if applied.kind == "amount":
                    used[applied.credit_id] = used.get(applied.credit_id, ZERO) + applied.amount
    return used


def totals(state: InvoiceState, account: AccountState, used: Mapping[str, Decimal]) -> Totals:
    lines = priced_lines(state)
    subtotal = sum((line.amount for line in lines), ZERO)
    left = subtotal
    applied: list[AppliedCredit] = []
    credits = applicable(account, state)
    for credit in (c for c in credits if c.kind == "percent"):
        off = min(cents(subtotal * credit.percent / 100), left)
        if off > 0:
            applied.append(AppliedCredit(credit_id=credit.credit_id, kind="percent", amount=off))
            left -= off
    for credit in (c for c in credits if c.kind == "amount"):
        off = min(credit.amount - used.get(credit.credit_id, ZERO), left)
        if off > 0:
            applied.append(AppliedCredit(credit_id=credit.credit_id, kind="amount", amount=cents(off)))
            left -= cents(off)
    return Totals(lines, subtotal, applied, cents(left))
