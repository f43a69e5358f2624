"""Bodies of the billing administration routes: rate cards, the tenant budget, credits, voiding invoices.

Requests forbid unknown fields and are strict (the `Request` base); money is an
exact decimal written as a JSON string ("12.50": a float is refused, as in the
schemas). A rate card's body is `schemas.metering.PublishRateCard` itself (JSON
or YAML, documented by `bodies.spec_schema`), so it has no model here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, Field, StringConstraints

from gateway.http.models.common import Request
from schemas.billing import BudgetMode, CreditKind, Reason
from schemas.metering import Currency, DecimalString
from schemas.values import Token


class BudgetIn(Request):
    amount: Annotated[DecimalString, Field(gt=0)] | None = Field(
        description="the spend limit per billing period (exact decimal string); null: no budget")
    currency: Currency = "USD"
    mode: BudgetMode = Field("soft", description="hard: no new GPU work once it is spent; soft: alerts only")


class CreditIn(Request):
    credit_id: Token | None = Field(None, description="default: derived from the Idempotency-Key, else random")
    kind: CreditKind = Field(description="percent: a discount on each invoice's subtotal; amount: a credit "
                                         "consumed until used up")
    percent: DecimalString | None = Field(None, description="kind percent: 0 < percent <= 100")
    amount: DecimalString | None = Field(None, description="kind amount: the credit (exact decimal string)")
    currency: Currency = "USD"
    valid_from: AwareDatetime | None = Field(None, description="default: now")
    valid_until: AwareDatetime | None = Field(None, description="exclusive; null: no end")
    description: Annotated[str, StringConstraints(max_length=500)] = ""


class VoidIn(Request):
    reason: Reason


class RateCardOut(BaseModel):
    version: int
    effective_from: datetime
    currency: str
    gpu_hour: dict[str, str]
    tokens_1k: dict[str, str]
    gpu_prices: dict[str, dict[str, Any]]
    prompt_prices: dict[str, dict[str, Any]]
    completion_prices: dict[str, dict[str, Any]]
    in_force: bool = Field(description="the version that prices usage happening now")
    link: str


class RateCardChecked(BaseModel):
    valid: bool
    version: int
    card: dict[str, Any]


class BudgetAlertOut(BaseModel):
    threshold: int = Field(description="percent of the budget the period's spend reached: 50, 80 or 100")
    spent: str
    limit: str
    mode: str
    time: datetime


class BudgetOut(BaseModel):
    tenant: str
    amount: str | None = Field(description="the budget per billing period; null: none")
    currency: str
    mode: str
    revision: int = Field(description="the budget's revision: each change starts the alerts over")
    set_by: str | None = Field(description="the actor that set the budget in force")
    set_at: datetime | None
    period: str | None = Field(description="the current billing period (its invoice's), or null before any usage")
    spent: str = Field(description="the current period's invoice total so far (after credits)")
    alerts: list[BudgetAlertOut] = Field(description="thresholds crossed this period under this budget")


class CreditOut(BaseModel):
    credit_id: str
    tenant: str
    kind: str
    percent: str | None
    amount: str | None
    used: str | None = Field(description="amount credits: what finalized invoices applied so far")
    currency: str
    valid_from: datetime
    valid_until: datetime | None
    description: str
    status: str = Field(description="active | scheduled | expired | revoked")
    link: str
