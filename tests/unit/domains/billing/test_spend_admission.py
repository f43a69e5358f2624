"""Admission with a billing spend budget: hard at 100% rejects GPU work in that period only."""

from datetime import UTC, datetime

from domains.policy import QuotaState, Reject, SpendBudget, TenantUsage, admit
from schemas.billing import BudgetSet, BudgetThresholdCrossed
from schemas.jobs import JobSpec

NOW = datetime(2026, 1, 20, tzinfo=UTC)


def crossed(threshold=100, period="2026-01", revision=1, mode="hard"):
    return BudgetThresholdCrossed(tenant="acme", period=period, threshold=threshold, limit="5", spent="7.50",
                                  currency="USD", mode=mode, budget_revision=revision)


def verdict(spend, gpus=1, now=NOW):
    spec = JobSpec(name="t", image="img", gpus=gpus, gpu_model="H100" if gpus else None)
    return admit(QuotaState(tenant="acme"), TenantUsage(), spec, now=now, spend=spend)


def test_hard_budget_at_100_percent_rejects_gpu_work_with_the_reason():
    spend = SpendBudget().with_budget(BudgetSet(tenant="acme", amount="5", mode="hard"), 1).with_crossing(crossed())
    result = verdict(spend)
    assert isinstance(result, Reject)
    assert str(result.reason) == "budget_exhausted{budget=spend, period=2026-01, limit=5, used=7.50, currency=USD}"


def test_soft_budgets_cpu_jobs_other_periods_and_newer_budgets_are_not_blocked():
    hard = SpendBudget().with_budget(BudgetSet(tenant="acme", amount="5", mode="hard"), 1)
    soft = SpendBudget().with_budget(BudgetSet(tenant="acme", amount="5", mode="soft"), 1)
    assert not isinstance(verdict(soft.with_crossing(crossed(mode="soft"))), Reject)
    assert not isinstance(verdict(hard.with_crossing(crossed()), gpus=0), Reject)
    assert not isinstance(verdict(hard.with_crossing(crossed()), now=datetime(2026, 2, 1, tzinfo=UTC)), Reject)
    assert not isinstance(verdict(hard.with_crossing(crossed(threshold=80))), Reject)
    raised = hard.with_crossing(crossed()).with_budget(BudgetSet(tenant="acme", amount="50", mode="hard"), 2)
    assert not isinstance(verdict(raised), Reject)
