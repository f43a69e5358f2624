"""The billing read model's accounts: credits, the budget and who set it, budget alerts; snapshots of them."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from domains.billing.periods import period_of
from projections.billing import BillingModel
from projections.snapshots.format import capture, restore
from schemas import Envelope
from schemas import billing as b

T0 = datetime(2026, 11, 5, tzinfo=UTC)
NOV = period_of(T0, "monthly")


def env(aggregate: str, id: str, version: int, data, actor: str = "user:acme/ann#t1") -> Envelope:
    return Envelope(specversion="1.0", id=f"{aggregate}-{id}-{version}", source="/t", type=data.TYPE, time=T0,
                    tenant="acme", actor=actor, correlationid="c", data=data, aggregate=aggregate, aggregateid=id,
                    version=version)


def history() -> list[Envelope]:
    return [
        env("invoice", "inv-2026-11", 1, b.InvoiceOpened(invoice_id="inv-2026-11", tenant="acme", period=NOV.key,
                                                         period_start=NOV.start, period_end=NOV.end, currency="USD")),
        env("billing", "acme", 1, b.CreditGranted(tenant="acme", credit_id="c1", kind="amount", amount=Decimal(5),
                                                  valid_from=T0)),
        env("billing", "acme", 2, b.BudgetSet(tenant="acme", amount=Decimal(100), mode="hard"),
            actor="user:_platform/root#t0"),
        env("budget", NOV.key, 1, b.BudgetThresholdCrossed(
            tenant="acme", period=NOV.key, threshold=50, limit=Decimal(100), spent=Decimal(60), currency="USD",
            mode="hard", budget_revision=2)),
    ]


def folded(events: list[Envelope]) -> BillingModel:
    model = BillingModel()
    for seq, e in enumerate(events, 1):
        model.apply(e, seq)
    return model


def test_the_account_budget_setter_and_alerts_are_folded():
    model = folded(history())
    account = model.account("acme")
    assert list(account.credits) == ["c1"] and (account.budget.amount, account.budget_revision) == (100, 2)
    assert model.budget_set_by("acme")[0] == "user:_platform/root#t0"
    assert [(a.threshold, a.spent, a.budget_revision) for a in model.alerts("acme", NOV.key)] == [(50, 60, 2)]
    assert model.current("acme", T0).invoice_id == "inv-2026-11"
    assert model.current("acme", NOV.end) is None and model.alerts("globex", NOV.key) == []


def test_the_state_hash_covers_credits_budget_and_alerts():
    events = history()
    hashes = {folded(events[:n]).state_hash() for n in range(1, len(events) + 1)}
    assert len(hashes) == len(events)  # each step changed it (positions alone differ too: compare a same-seq pair)
    a, b_ = BillingModel(), BillingModel()
    a.apply(events[0], 1), b_.apply(events[0], 1)
    a.apply(events[1], 2), b_.apply(env("billing", "acme", 1, b.CreditGranted(
        tenant="acme", credit_id="c1", kind="amount", amount=Decimal(6), valid_from=T0)), 2)
    assert a.state_hash() != b_.state_hash()


def test_a_snapshot_of_accounts_and_alerts_restores_the_same_state():
    model = folded(history())
    restored = BillingModel()
    assert restore(restored, capture(model, "EVT@t"), "EVT@t") == model.position()
    assert restored.state_hash() == model.state_hash()
    assert list(restored.account("acme").credits) == ["c1"]
    assert restored.invoice("acme", "inv-2026-11").total == Decimal("0.00")
