"""The proxy's budget pieces without a bus: the tenant hard stop (402) and when a key's spend is reported."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from domains.identity import KeyPrincipal
from gateway.proxy.alerts import BudgetAlerts
from gateway.proxy.budgets import TenantBudgets
from gateway.proxy.errors import OverBudget
from schemas import Envelope, derived_id
from schemas.billing import BudgetSet, BudgetThresholdCrossed

NOW = datetime(2026, 1, 20, tzinfo=UTC)


def env(tenant: str, aggregate: str, event, version: int) -> Envelope:
    return Envelope(specversion="1.0", id=derived_id("t", tenant, aggregate, version), source="/tests",
                    type=event.TYPE, time=NOW, tenant=tenant, actor="test", correlationid="c", data=event,
                    aggregate=aggregate, aggregateid=tenant if aggregate == "billing" else "2026-01", version=version)


def budgets(*events) -> TenantBudgets:
    model = TenantBudgets()
    model.apply_batch([(e, n) for n, e in enumerate(events, 1)])
    return model


def budget_set(amount="5", mode="hard", version=1, tenant="acme"):
    return env(tenant, "billing", BudgetSet(tenant=tenant, amount=amount, mode=mode), version)


def crossed(threshold=100, revision=1, mode="hard", tenant="acme", period="2026-01"):
    return env(tenant, "budget", BudgetThresholdCrossed(
        tenant=tenant, period=period, threshold=threshold, limit="5", spent="5.20", currency="USD", mode=mode,
        budget_revision=revision), threshold)


def test_a_hard_budget_at_100_percent_refuses_the_tenants_requests_with_402_naming_it():
    model = budgets(budget_set(), crossed(80))
    model.check("acme", NOW)  # 80%: still served
    model = budgets(budget_set(), crossed(80), crossed(100))
    with pytest.raises(OverBudget) as refused:
        model.check("acme", NOW)
    error = refused.value
    assert (error.status, error.body()["error"]["type"], error.code) == (402, "insufficient_quota",
                                                                         "tenant_budget_exceeded")
    for part in ("acme", "2026-01", "5 USD", "5.20 USD", "hard budget"):
        assert part in error.message
    model.check("beta", NOW)  # another tenant is not concerned


def test_soft_budgets_new_revisions_and_new_periods_do_not_refuse():
    budgets(budget_set(mode="soft"), crossed(mode="soft")).check("acme", NOW)
    budgets(budget_set(), crossed(), budget_set(amount="50", version=2)).check("acme", NOW)
    budgets(budget_set(), crossed()).check("acme", datetime(2026, 2, 1, tzinfo=UTC))
    budgets(budget_set(), crossed(), budget_set(amount=None, version=2)).check("acme", NOW)


def principal(**more) -> KeyPrincipal:
    fields = {"tenant": "acme", "key_id": "key000000001", "name": "k", "allowed_models": frozenset(), "rpm": None,
              "tpm": None, "budget": Decimal(10), "expires_at": None, **more}
    return KeyPrincipal(**fields)


def test_a_key_report_is_queued_once_per_threshold_with_an_id_every_proxy_derives_alike():
    a, b = BudgetAlerts(None, clock=lambda: NOW), BudgetAlerts(None, clock=lambda: NOW)
    for spent in ("4.99", "5", "5.5", "8.1", "9"):
        a.check(principal(), Decimal(spent))
    b.check(principal(), Decimal("5.2"))
    sent = [a.queue.get_nowait() for _ in range(a.queue.qsize())]
    assert [(e.data.spent, e.data.budget_revision) for e in sent] == [(Decimal(5), 1), (Decimal("8.1"), 1)]
    assert b.queue.get_nowait().id == sent[0].id, "two proxies crossing 50% send the same command id"
    assert sent[0].tenant == "acme" and sent[0].type == "tessera.identity.report_api_key_spend.v1"

    a.check(principal(budget_alerts=frozenset({50, 80, 100})), Decimal(10))  # announced already
    a.check(principal(budget=None), Decimal(1000))
    assert a.queue.empty()
    a.check(principal(budget_revision=2, budget=Decimal(20)), Decimal(10))  # a new budget: counted again
    assert a.queue.get_nowait().data.budget_revision == 2
