"""Billing: rated usage -> invoices per tenant per period, credits, budgets. Pure (no I/O, no clock).

    periods.py   calendar billing periods (monthly default, weekly, daily); invoice ids
    pricing.py   price_for(card, kind, item); exact per_unit / graduated / package amounts; cents
    invoice.py   the `invoice` aggregate: draft -> finalized -> void
    accrue.py    Planner: a batch of usage records -> invoice events (dedupe, late usage, unrated)
    totals.py    priced lines, credits and discounts, totals
    account.py   the `billing` aggregate: credits, budget (revisions)
    budget.py    crossings: 50/80/100% alerts, once each per period and budget revision
    errors.py    BillingError and subclasses
"""

from domains.billing.account import AccountState
from domains.billing.accrue import Planner, UsageItem, usage_item
from domains.billing.budget import crossings
from domains.billing.invoice import InvoiceState, finalize
from domains.billing.periods import Period, following, invoice_id, period_of
from domains.billing.pricing import amount, cents, line_amount, price_for
from domains.billing.totals import Totals, consumed, totals

__all__ = [
    "AccountState",
    "InvoiceState",
    "Period",
    "Planner",
    "Totals",
    "UsageItem",
    "amount",
    "cents",
    "consumed",
    "crossings",
    "finalize",
    "following",
    "invoice_id",
    "line_amount",
    "period_of",
    "price_for",
    "totals",
    "usage_item",
]
