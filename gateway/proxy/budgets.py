"""Tenant spend budgets as the proxy sees them: a hard budget at 100% stops the tenant's new inference requests.

A projection fed by the proxy's ProjectionRunner (like the identity model and
the rate cards): it folds each tenant's `billing` aggregate `BudgetSet`
(revision = the event's aggregate version) and `budget` aggregate
`BudgetThresholdCrossed` events into a `domains.policy.SpendBudget`, keyed by
the envelope's tenant, exactly as the control plane's admission ledger does
(bus/control/ledger.py). `check(tenant, now)` raises `OverBudget` (402,
code `tenant_budget_exceeded`) when `domains.policy.spend.hard_stop` says
the tenant's hard budget is exhausted in the current period: the same rule
that rejects its new GPU jobs. A soft budget only alerts; a new `SetBudget`
(new revision) or a new period lifts the stop. Requests already admitted
finish; the stop takes effect once the crossing reaches this proxy's read
side (the runner flushes every 0.1 s).
"""

from __future__ import annotations

from datetime import datetime

from domains.policy.spend import SpendBudget, hard_stop
from gateway.proxy.errors import OverBudget
from schemas import Envelope
from schemas.billing import BudgetSet, BudgetThresholdCrossed


class TenantBudgets:
    name = "proxy-budgets"
    aggregates = frozenset({"billing", "budget"})

    def __init__(self) -> None:
        self.spend: dict[str, SpendBudget] = {}
        self._position = 0

    def check(self, tenant: str, now: datetime) -> None:
        crossed = hard_stop(self.spend.get(tenant), now)
        if crossed is not None:
            raise OverBudget(
                f"tenant budget exhausted: {tenant}'s hard budget for period {crossed.period} is "
                f"{crossed.limit} {crossed.currency} and {crossed.spent} {crossed.currency} is spent; new "
                "inference requests are refused until the budget is raised or the period ends",
                code="tenant_budget_exceeded")

    # -- projection protocol --
    def position(self) -> int:
        return self._position

    def reset(self) -> None:
        self.__init__()

    def apply(self, env: Envelope, seq: int) -> bool:
        if seq <= self._position:
            return False
        event = env.data
        if isinstance(event, BudgetSet) and env.aggregate == "billing":
            self.spend[env.tenant] = (self.spend.get(env.tenant) or SpendBudget()).with_budget(event, env.version or 0)
        elif isinstance(event, BudgetThresholdCrossed):
            self.spend[env.tenant] = (self.spend.get(env.tenant) or SpendBudget()).with_crossing(event)
        self._position = seq
        return True

    def apply_batch(self, batch) -> int:
        return sum(self.apply(env, seq) for env, seq in batch)

    def state_hash(self) -> str:
        return f"{self.name}@{self._position}/{sorted((t, repr(s)) for t, s in self.spend.items())}"
