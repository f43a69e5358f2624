"""Invoice lifecycle, accrual planning (dedupe, late usage, rate-card versions), credits and budget alerts."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from domains.billing import (
    AccountState,
    Planner,
    crossings,
    finalize,
    totals,
    usage_item,
)
from domains.billing import account as acc
from domains.billing.errors import InvoiceNotFound, InvoiceTransition, PeriodOpen
from domains.billing.invoice import InvoiceState, decide, evolve, fold
from domains.billing.periods import following, period_of
from schemas.billing import (
    BudgetSet,
    CreditGranted,
    InvoiceOpened,
    InvoiceUsageAccrued,
    InvoiceVoided,
    VoidInvoice,
)
from schemas.metering import RateCardPublished, UsageRecorded
from schemas.usage import InferenceRequestRecorded

JAN = datetime(2026, 1, 10, tzinfo=UTC)
CARDS = [
    RateCardPublished(version=1, effective_from=datetime(2026, 1, 1, tzinfo=UTC), gpu_hour={"H100": "2.50"},
                      tokens_1k={"llama": "0.20"}),
    RateCardPublished(version=2, effective_from=datetime(2026, 1, 15, tzinfo=UTC), gpu_hour={"H100": "3.00"},
                      tokens_1k={"llama": "0.20"}, completion_prices={"llama": {"scheme": "package",
                                                                               "package_size": "1", "package_price": "1"}}),
]


def gpu(record_id, at, seconds, tenant="acme", model="H100"):
    return UsageRecorded(record_id=record_id, tenant=tenant, job_id="j1", source="gpu", gpu_model=model, gpus=1,
                         attempt=1, quantity=Decimal(seconds), unit="gpu_second", start=at,
                         end=at + timedelta(seconds=int(seconds)))


def request(request_id, at, prompt, completion, tenant="acme"):
    return InferenceRequestRecorded(request_id=request_id, tenant=tenant, key_id="k1", model="llama",
                                    endpoint="chat.completions", outcome="ok", status=200, prompt_tokens=prompt,
                                    completion_tokens=completion, start=at, end=at, latency_ms=1.0)


def plan(records, invoices=None, seen=()):
    invoices = invoices or {}
    planner = Planner(lambda t: invoices.get(t, {}), lambda t, r: r in seen, CARDS, "monthly")
    for seq, record in enumerate(records, start=1):
        item = usage_item(record, seq)
        if item is not None:
            planner.add(item)
    return planner.events(), planner


def draft(records):
    _, planner = plan(records)
    return planner.states


def test_duplicate_records_in_a_batch_and_across_batches_bill_once():
    events, _ = plan([gpu("r1", JAN, 3600), gpu("r1", JAN, 3600), gpu("r2", JAN, 3600)], seen={"r2"})
    accrued = [u for e in events[("acme", "2026-01")] if isinstance(e, InvoiceUsageAccrued) for u in e.usage]
    assert [u.record_id for u in accrued] == ["r1"]


def test_usage_is_priced_by_the_card_in_force_at_its_start_on_separate_lines():
    states = draft([gpu("a", JAN, 3600), gpu("b", datetime(2026, 1, 20, tzinfo=UTC), 3600)])
    money = totals(states[("acme", "2026-01")], AccountState(tenant="acme"), {})
    assert sorted((pl.line.rate_card_version, pl.amount) for pl in money.lines) == [
        (1, Decimal("2.50")), (2, Decimal("3.00"))]
    assert money.total == Decimal("5.50")


def test_inference_requests_bill_prompt_and_completion_lines():
    states = draft([request("q1", datetime(2026, 1, 20, tzinfo=UTC), 1500, 200), request("q2", JAN, 0, 0)])
    lines = {pl.line.kind: pl.amount for pl in totals(states[("acme", "2026-01")], AccountState(), {}).lines}
    assert lines == {"prompt_tokens": Decimal("0.30"), "completion_tokens": Decimal("1.00")}  # 0.2 of 1 package


def test_late_usage_for_a_finalized_period_goes_to_the_next_draft_as_an_adjustment():
    states = draft([gpu("a", JAN, 3600)])
    jan = states[("acme", "2026-01")]
    closed = evolve(jan, finalize(jan, totals(jan, AccountState(), {}), now=datetime(2026, 2, 5, tzinfo=UTC))[0])
    events, planner = plan([gpu("late", JAN, 7200)], invoices={"acme": {"2026-01": closed}})
    assert ("acme", "2026-01") not in events
    feb = planner.states[("acme", "2026-02")]
    (line,) = feb.lines.values()
    assert (line.adjusts, line.rate_card_version, feb.quantities[line.line_id]) == ("2026-01", 1, Decimal(7200))
    assert totals(feb, AccountState(), {}).total == Decimal("5.00")


def test_usage_without_a_price_is_kept_unrated_not_billed():
    states = draft([gpu("x", JAN, 3600, model="B200"), gpu("y", datetime(2025, 12, 1, tzinfo=UTC), 60)])
    jan = states[("acme", "2026-01")]
    assert [u.code for u in jan.unrated] == ["unknown_gpu_model"]
    assert [u.code for u in states[("acme", "2025-12")].unrated] == ["no_rate_card_in_force"]
    assert totals(jan, AccountState(), {}).total == Decimal("0.00")


def opened_invoice():
    p = period_of(JAN, "monthly")
    return fold([InvoiceOpened(invoice_id="inv-2026-01", tenant="acme", period=p.key, period_start=p.start,
                               period_end=p.end, currency="USD")])


def test_invoice_transitions_draft_finalized_void_and_illegal_ones_rejected():
    state = opened_invoice()
    with pytest.raises(PeriodOpen):
        finalize(state, totals(state, AccountState(), {}), now=JAN)
    state = evolve(state, finalize(state, totals(state, AccountState(), {}), now=datetime(2026, 2, 1, tzinfo=UTC))[0])
    assert state.status == "finalized"
    with pytest.raises(InvoiceTransition):
        finalize(state, totals(state, AccountState(), {}), now=datetime(2026, 3, 1, tzinfo=UTC))
    (voided,) = decide(state, VoidInvoice(invoice_id="inv-2026-01", reason="dispute"), now=JAN)
    assert isinstance(voided, InvoiceVoided) and voided.previous == "finalized"
    state = evolve(state, voided)
    with pytest.raises(InvoiceTransition):
        decide(state, VoidInvoice(invoice_id="inv-2026-01", reason="again"), now=JAN)
    with pytest.raises(InvoiceNotFound):
        decide(InvoiceState(), VoidInvoice(invoice_id="inv-2026-02", reason="x"), now=JAN)


def test_percent_discount_then_amount_credit_with_a_balance_across_invoices():
    state = draft([gpu("a", JAN, 36000)])[("acme", "2026-01")]  # 10 h x 2.50 = 25.00
    account = AccountState(tenant="acme")
    for credit in (CreditGranted(tenant="acme", credit_id="promo", kind="percent", percent="10", valid_from=JAN),
                   CreditGranted(tenant="acme", credit_id="gift", kind="amount", amount="30", valid_from=JAN),
                   CreditGranted(tenant="acme", credit_id="old", kind="amount", amount="5",
                                 valid_from=JAN - timedelta(days=60), valid_until=JAN - timedelta(days=30))):
        account = acc.evolve(account, credit)
    money = totals(state, account, {"gift": Decimal("10.00")})
    assert [(c.credit_id, c.amount) for c in money.credits] == [("promo", Decimal("2.50")), ("gift", Decimal("20.00"))]
    assert (money.subtotal, money.total) == (Decimal("25.00"), Decimal("2.50"))


def test_each_budget_threshold_is_announced_once_per_period_and_revision():
    account = acc.evolve(AccountState(tenant="acme"), BudgetSet(tenant="acme", amount="100", mode="hard"), 1)
    first = crossings(account, period="2026-01", spent=Decimal(85), currency="USD", announced=set())
    assert [c.threshold for c in first] == [50, 80]
    announced = {(c.budget_revision, c.threshold) for c in first}
    assert crossings(account, period="2026-01", spent=Decimal(90), currency="USD", announced=announced) == []
    (hundred,) = crossings(account, period="2026-01", spent=Decimal("100.00"), currency="USD", announced=announced)
    assert (hundred.threshold, hundred.mode) == (100, "hard")
    raised = acc.evolve(account, BudgetSet(tenant="acme", amount="1000", mode="hard"), 2)
    assert crossings(raised, period="2026-01", spent=Decimal(100), currency="USD", announced=announced) == []


def test_periods_are_calendar_periods_in_utc():
    dec = period_of(datetime(2025, 12, 31, 23, 59, tzinfo=UTC), "monthly")
    assert (dec.key, following(dec).key, following(dec).start) == ("2025-12", "2026-01", datetime(2026, 1, 1, tzinfo=UTC))
    assert period_of(datetime(2026, 1, 1, tzinfo=UTC), "weekly").key == "2026-W01"
    assert period_of(JAN, "daily").key == "2026-01-10"
