"""Billing: invoices per tenant per period, credits and budgets (billing domain).

Aggregates (subject `evt.<tenant>.<aggregate>.<id>.<event>`, all under the tenant billed):

    invoice  id = "inv-<period>"  e.g. inv-2026-11 (monthly), inv-2026-W45, inv-2026-11-05
             written by the billing consumer (accruals; finalizing at period end + grace, by its timer);
             VoidInvoice through the control plane
    billing  id = the tenant      GrantCredit, RevokeCredit, SetBudget (control plane)
    budget   id = "<period>"      BudgetThresholdCrossed, written by the billing consumer only

Invoice lifecycle: draft (InvoiceOpened) -> finalized (InvoiceFinalized, at
period end + grace) -> void (InvoiceVoided); a draft may be voided too. A
finalized invoice never changes: usage for its period that arrives later is
accrued to the next draft invoice as an adjustment line (`adjusts` = the period).

Lines: one per (kind, item, rate card version, adjusts). `kind` is `gpu`
(GPU-seconds of a GPU model, priced per GPU-hour), `tokens` (token usage
records, per 1,000 tokens), `prompt_tokens` / `completion_tokens` (inference
requests, per 1,000 tokens). A rate-card change mid-period therefore starts
new lines: usage is priced by the version in force at its start time, and
graduated tiers count within a line.

Money: exact decimals as JSON strings. Each line's amount is its exact
priced total rounded ONCE to the cent, ROUND_HALF_EVEN; subtotal = sum of the
rounded lines; percentage discounts are computed on the subtotal and rounded
likewise; fixed credits are consumed in grant order; total >= 0.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, Field, StringConstraints, model_validator

from schemas.base import Command, Event
from schemas.metering import Currency, DecimalString, ModelName, Price
from schemas.values import Token, Value

LineKind = Literal["gpu", "tokens", "prompt_tokens", "completion_tokens"]
MeteredUnit = Literal["gpu_second", "token"]
PricedUnit = Literal["gpu_hour", "1k_tokens"]
InvoiceStatus = Literal["draft", "finalized", "void"]
BudgetMode = Literal["hard", "soft"]
CreditKind = Literal["percent", "amount"]
PeriodKey = Annotated[str, StringConstraints(pattern=r"^[0-9]{4}-(W[0-9]{2}|[0-9]{2}(-[0-9]{2})?)$")]
Reason = Annotated[str, StringConstraints(min_length=1, max_length=500)]
THRESHOLDS = (50, 80, 100)


# --- values ----------------------------------------------------------------------------------------

class InvoiceLine(Value):
    """What a line bills and at which price: fixed when the line is opened."""

    line_id: Token  # deterministic: derived from (kind, item, version, adjusts)
    kind: LineKind
    item: ModelName  # the GPU model or served model
    unit: MeteredUnit  # of the accrued quantities
    priced_unit: PricedUnit
    rate_card_version: Annotated[int, Field(ge=1)]
    price: Price
    currency: Currency
    adjusts: PeriodKey | None = None  # late usage of this (finalized) period


class AccruedUsage(Value):
    record_id: str = Field(min_length=1)  # UsageRecorded.record_id or InferenceRequestRecorded.request_id
    line_id: Token
    quantity: DecimalString  # in the line's metered unit
    at: AwareDatetime  # the usage's start: picks the period and the rate card
    usage_seq: Annotated[int, Field(ge=1)]  # USAGE stream sequence it was read from
    key_id: Token | None = None  # the API key of an inference request


class UnratedUsage(Value):
    """Usage the consumer could not price (no card in force, model without a price): kept, visible, unbilled."""

    record_id: str = Field(min_length=1)
    at: AwareDatetime
    usage_seq: Annotated[int, Field(ge=1)]
    code: Token
    message: Reason


class PricedLine(Value):
    line: InvoiceLine
    quantity: DecimalString  # in the metered unit
    amount: DecimalString  # rounded to the cent (ROUND_HALF_EVEN)


class AppliedCredit(Value):
    credit_id: Token
    kind: CreditKind
    amount: DecimalString  # deducted from this invoice, in cents


# --- invoice ---------------------------------------------------------------------------------------

class InvoiceOpened(Event):
    TYPE = "tessera.billing.invoice_opened.v1"
    invoice_id: Token
    tenant: Token
    period: PeriodKey
    period_start: AwareDatetime
    period_end: AwareDatetime  # exclusive
    currency: Currency


class InvoiceLineOpened(Event):
    TYPE = "tessera.billing.invoice_line_opened.v1"
    invoice_id: Token
    line: InvoiceLine


class InvoiceUsageAccrued(Event):
    """A batch of usage records added to lines of a draft invoice (each record id once per tenant)."""

    TYPE = "tessera.billing.invoice_usage_accrued.v1"
    invoice_id: Token
    usage: list[AccruedUsage] = Field(min_length=1)


class InvoiceUsageUnrated(Event):
    TYPE = "tessera.billing.invoice_usage_unrated.v1"
    invoice_id: Token
    usage: list[UnratedUsage] = Field(min_length=1)


class InvoiceFinalized(Event):
    """The invoice as billed, frozen: priced lines, credits applied, totals."""

    TYPE = "tessera.billing.invoice_finalized.v1"
    invoice_id: Token
    lines: list[PricedLine] = Field(default_factory=list)
    subtotal: DecimalString
    credits: list[AppliedCredit] = Field(default_factory=list)
    total: DecimalString
    currency: Currency
    finalized_at: AwareDatetime


class VoidInvoice(Command):
    TYPE = "tessera.billing.void_invoice.v1"
    invoice_id: Token
    reason: Reason


class InvoiceVoided(Event):
    TYPE = "tessera.billing.invoice_voided.v1"
    invoice_id: Token
    reason: Reason
    previous: Literal["draft", "finalized"]


# --- billing account: credits and budgets -----------------------------------------------------------

class GrantCredit(Command):
    """A discount (`percent` of each invoice's subtotal) or a credit (`amount`, consumed until used up)."""

    TYPE = "tessera.billing.grant_credit.v1"
    tenant: Token
    credit_id: Token
    kind: CreditKind
    percent: Annotated[DecimalString, Field(gt=0, le=100)] | None = None
    amount: Annotated[DecimalString, Field(gt=0)] | None = None
    currency: Currency = "USD"
    valid_from: AwareDatetime
    valid_until: AwareDatetime | None = None  # exclusive; None: no end
    description: Annotated[str, StringConstraints(max_length=500)] = ""

    @model_validator(mode="after")
    def _one_value(self) -> GrantCredit:
        if self.kind == "percent" and (self.percent is None or self.amount is not None):
            raise ValueError("percent: a percent credit needs percent (0 < p <= 100) and no amount")
        if self.kind == "amount" and (self.amount is None or self.percent is not None):
            raise ValueError("amount: an amount credit needs amount (> 0) and no percent")
        if self.valid_until is not None and self.valid_until <= self.valid_from:
            raise ValueError("valid_until: must be after valid_from")
        return self


class CreditGranted(Event):
    TYPE = "tessera.billing.credit_granted.v1"
    tenant: Token
    credit_id: Token
    kind: CreditKind
    percent: DecimalString | None = None
    amount: DecimalString | None = None
    currency: Currency = "USD"
    valid_from: AwareDatetime
    valid_until: AwareDatetime | None = None
    description: str = ""


class RevokeCredit(Command):
    TYPE = "tessera.billing.revoke_credit.v1"
    tenant: Token
    credit_id: Token


class CreditRevoked(Event):
    """The credit applies to no invoice finalized after this; finalized ones keep what they applied."""

    TYPE = "tessera.billing.credit_revoked.v1"
    tenant: Token
    credit_id: Token


class SetBudget(Command):
    """The tenant's spend budget per billing period (None: no budget). hard: stop new GPU work at 100%."""

    TYPE = "tessera.billing.set_budget.v1"
    tenant: Token
    amount: Annotated[DecimalString, Field(gt=0)] | None = None
    currency: Currency = "USD"
    mode: BudgetMode = "soft"


class BudgetSet(Event):
    TYPE = "tessera.billing.budget_set.v1"
    tenant: Token
    amount: DecimalString | None = None
    currency: Currency = "USD"
    mode: BudgetMode = "soft"


class BudgetThresholdCrossed(Event):
    """The period's spend (invoice total so far) reached `threshold`% of the budget. Once per threshold
    per period per budget revision (the `billing` aggregate version of the BudgetSet in force)."""

    TYPE = "tessera.billing.budget_threshold_crossed.v1"
    tenant: Token
    period: PeriodKey
    threshold: Literal[50, 80, 100]
    limit: DecimalString
    spent: DecimalString
    currency: Currency
    mode: BudgetMode
    budget_revision: Annotated[int, Field(ge=1)]
