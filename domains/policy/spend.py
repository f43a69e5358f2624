"""Spend budgets (billing) as admission sees them: a hard budget at 100% stops new GPU work and inference.

`SpendBudget` is folded from the tenant's `billing` aggregate (`BudgetSet`:
mode and revision = the event's aggregate version) and its `budget`
aggregates (`BudgetThresholdCrossed`). `hard_stop(spend, now)` is the rule,
in one place: the 100% crossing when the budget in force is hard and its
100% threshold was crossed in the billing period containing `now`, else
None (the crossing's period key is matched against
monthly `2026-11`, weekly `2026-W45` and daily `2026-11-05` keys: the
formats differ, so whichever period the billing consumer uses is found).
A soft budget only alerts; a new `BudgetSet` (new revision) lifts the block
until the consumer announces 100% for it; a new period lifts it too.
Admission: `spend_block(spend, gpus, now)` is `budget_exhausted{budget=spend,
period, limit, used, currency}` under a hard stop; CPU-only jobs (gpus = 0)
are never blocked. Inference: the proxy refuses a tenant's new requests
under a hard stop (gateway/proxy/budgets.py).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from domains.policy.usage import period_key
from schemas.billing import BudgetSet, BudgetThresholdCrossed
from schemas.values import WaitReason


@dataclass(frozen=True)
class SpendBudget:
    mode: str = "soft"
    revision: int = 0
    exhausted: BudgetThresholdCrossed | None = None  # the latest 100% crossing

    def with_budget(self, event: BudgetSet, revision: int) -> SpendBudget:
        return replace(self, mode=event.mode if event.amount is not None else "soft", revision=revision)

    def with_crossing(self, event: BudgetThresholdCrossed) -> SpendBudget:
        return replace(self, exhausted=event) if event.threshold == 100 else self


def hard_stop(spend: SpendBudget | None, now: datetime) -> BudgetThresholdCrossed | None:
    if spend is None or spend.mode != "hard" or spend.exhausted is None:
        return None
    crossed = spend.exhausted
    if crossed.budget_revision != spend.revision:
        return None
    if crossed.period not in {period_key(now, kind) for kind in ("monthly", "weekly", "daily")}:
        return None
    return crossed


def spend_block(spend: SpendBudget | None, gpus: int, now: datetime) -> WaitReason | None:
    crossed = None if gpus == 0 else hard_stop(spend, now)
    if crossed is None:
        return None
    return WaitReason(code="budget_exhausted", details={
        "budget": "spend", "period": crossed.period, "limit": str(crossed.limit), "used": str(crossed.spent),
        "currency": crossed.currency})
