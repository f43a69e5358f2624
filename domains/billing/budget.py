"""Budget alerts: which 50/80/100% thresholds a period's spend crossed that were not announced yet.

`crossings(account, period, spent, announced)` -> `BudgetThresholdCrossed`
for every threshold of `THRESHOLDS` with spent >= threshold% x budget
(exact: spent x 100 >= threshold x limit) whose (budget revision, threshold)
is not in `announced` (the crossings already on the `budget` aggregate of
that period). So each threshold is emitted once per period per budget
revision, in ascending order, and a new `SetBudget` starts the count again.
Nothing without a budget or in another currency than the budget's.
"""

from __future__ import annotations

from collections.abc import Container
from decimal import Decimal

from domains.billing.account import AccountState
from schemas.billing import THRESHOLDS, BudgetThresholdCrossed


def crossings(account: AccountState, *, period: str, spent: Decimal, currency: str,
              announced: Container[tuple[int, int]]) -> list[BudgetThresholdCrossed]:
    budget = account.budget
    if budget is None or budget.amount is None or budget.currency != currency:
        return []
    out = []
    for threshold in THRESHOLDS:
        if spent * 100 >= threshold * budget.amount and (account.budget_revision, threshold) not in announced:
            out.append(BudgetThresholdCrossed(
                tenant=account.tenant, period=period, threshold=threshold, limit=budget.amount, spent=spent,
                currency=currency, mode=budget.mode, budget_revision=account.budget_revision))
    return out
