"""D2: invoices equal the ground truth to the cent under redelivery, duplicates, late usage and card changes.

Real nats-server, real USAGE and EVT streams, the real consumer. Ground truth
is computed from the unique records with an independent oracle
(billing_support.truth_amount): per tenant, per invoice, per line (kind, item,
rate card version in force at the record's start, adjusted period).
"""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal
from fractions import Fraction

from bus.billing import BillingConsumer, BillingSettings
from projections.billing import BillingModel
from projections.runner import ProjectionRunner
from schemas import decode
from schemas.billing import BudgetSet, BudgetThresholdCrossed, InvoiceFinalized
from schemas.metering import RateCardPublished
from tests.integration.billing_support import (
    UTC,
    gpu_record,
    inference_record,
    publish_usage,
    put_cards,
    put_events,
    truth_amount,
)
from tests.integration.conftest import stored_msgs

V1_FROM, V2_FROM = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 15, tzinfo=UTC)
A100_TIERS = {"scheme": "graduated", "tiers": [{"up_to": "2", "unit_price": "4.00"}, {"unit_price": "1.25"}]}
PACKAGE = {"scheme": "package", "package_size": "1", "package_price": "0.90", "package_rounding": "up"}
V1 = {"version": 1, "effective_from": V1_FROM, "gpu_hour": {"H100": "2.50"}, "tokens_1k": {"llama": "0.20"},
      "gpu_prices": {"A100": A100_TIERS}}
V2 = {"version": 2, "effective_from": V2_FROM, "gpu_hour": {"H100": "3.10", "A100": "1.00"},
      "tokens_1k": {"llama": "0.25"}, "completion_prices": {"llama": PACKAGE}}
PRICES = {1: {("gpu", "H100"): {"unit_price": "2.50"}, ("gpu", "A100"): A100_TIERS,
              ("prompt_tokens", "llama"): {"unit_price": "0.20"}, ("completion_tokens", "llama"): {"unit_price": "0.20"}},
          2: {("gpu", "H100"): {"unit_price": "3.10"}, ("gpu", "A100"): {"unit_price": "1.00"},
              ("prompt_tokens", "llama"): {"unit_price": "0.25"}, ("completion_tokens", "llama"): PACKAGE}}
PER = {"gpu": 3600, "prompt_tokens": 1000, "completion_tokens": 1000}
NOW = datetime(2026, 2, 10, tzinfo=UTC)


def records(rng: random.Random, prefix: str, start: datetime, days: float, n: int):
    out = []
    for i in range(n):
        tenant = rng.choice(["acme", "beta"])
        at = start + timedelta(seconds=rng.randrange(int(days * 86400)))
        if rng.random() < 0.6:
            out.append(gpu_record(f"{prefix}-g{i}", tenant, rng.choice(["H100", "A100"]), at,
                                  rng.randrange(1, 5400), gpus=rng.choice([1, 2, 8])))
        else:
            out.append(inference_record(f"{prefix}-q{i}", tenant, "llama", at, rng.randrange(0, 3000),
                                        rng.randrange(1, 900)))
    return out


def parts(record):
    if hasattr(record, "record_id"):
        return [("gpu", record.gpu_model, record.quantity)]
    return [(k, record.model, Decimal(n)) for k, n in (("prompt_tokens", record.prompt_tokens),
                                                       ("completion_tokens", record.completion_tokens)) if n]


def truth(assigned):
    """{(tenant, invoice period): {(kind, item, version, adjusts): amount}} from (record, invoice period) pairs."""
    quantities = defaultdict(lambda: defaultdict(Decimal))
    for record, period in assigned:
        version = 2 if record.start >= V2_FROM else 1
        own = f"{record.start.year:04d}-{record.start.month:02d}"
        for kind, item, qty in parts(record):
            quantities[(record.tenant, period)][(kind, item, version, own if own != period else None)] += qty
    return {inv: {line: truth_amount(PRICES[line[2]][line[:2]], Fraction(q) / PER[line[0]])
                  for line, q in lines.items()} for inv, lines in quantities.items()}


def as_lines(priced):
    return {(p.line.kind, p.line.item, p.line.rate_card_version, p.line.adjusts): p.amount for p in priced}


async def test_invoices_equal_the_ground_truth_to_the_cent(nc):
    rng = random.Random(7)
    await put_cards(nc, [RateCardPublished(**V1), RateCardPublished(**V2)])
    await put_events(nc, "acme", "billing", "acme", [BudgetSet(tenant="acme", amount="40", mode="soft")])
    batch = records(rng, "jan", V1_FROM, 31, 160) + records(rng, "feb", datetime(2026, 2, 1, tzinfo=UTC), 5, 30)
    for i, record in enumerate(batch):
        await publish_usage(nc, record)
        if i % 5 == 0:  # the same record again, past JetStream's dedupe (another message id)
            await publish_usage(nc, record, msg_id=f"copy-{i}")
    settings = BillingSettings(batch=13, grace_s=86400, clock=lambda: NOW)

    first = BillingConsumer(nc, settings)
    await first.start()
    for _ in range(4):
        await first.step()
    # a crash: fresh consumers resume from the tracked position, two of them racing for the same batches
    second, third = BillingConsumer(nc, settings), BillingConsumer(nc, settings)
    await second.start()
    await third.start()
    await asyncio.gather(second.catch_up(), third.catch_up())
    assert await first.catch_up() == 0 or first.billed + second.billed + third.billed == len(batch)
    assert first.billed + second.billed + third.billed == len(batch)

    finalized = await BillingConsumer(nc, settings).tick(datetime(2026, 2, 2, 0, 0, 1, tzinfo=UTC))
    assert finalized == 2  # January of acme and of beta; February is still open

    late = records(rng, "late", V1_FROM, 31, 25)
    for record in late + batch[:40]:  # late January usage, and copies of records already billed
        await publish_usage(nc, record, msg_id=f"again-{getattr(record, 'record_id', None) or record.request_id}")
    await BillingConsumer(nc, settings).catch_up()

    expected = truth([(r, f"{r.start.year:04d}-{r.start.month:02d}") for r in batch] + [(r, "2026-02") for r in late])
    model = BillingModel()
    await ProjectionRunner(nc, model).catch_up()
    for tenant in ("acme", "beta"):
        jan = model.invoice(tenant, "inv-2026-01")
        assert jan.status == "finalized"
        assert as_lines(jan.lines) == expected[(tenant, "2026-01")]
        assert jan.total == sum(expected[(tenant, "2026-01")].values())
        feb = model.invoice(tenant, "inv-2026-02")
        assert feb.status == "draft"
        assert as_lines(feb.lines) == expected[(tenant, "2026-02")]
        assert any(line.line.adjusts == "2026-01" for line in feb.lines)
        assert feb.total == sum(expected[(tenant, "2026-02")].values())
        assert [i.invoice_id for i in model.invoices(tenant, status="finalized").items] == ["inv-2026-01"]

    stored = await stored_msgs(nc, "EVT", "evt.>")
    finals = [decode(m.data) for m in stored if m.subject.endswith(".invoice_finalized")]
    assert sorted(e.tenant for e in finals) == ["acme", "beta"]  # finalized once each, never changed after
    crossed = [decode(m.data).data for m in stored if m.subject.startswith("evt.acme.budget.")]
    assert all(isinstance(c, BudgetThresholdCrossed) for c in crossed)
    jan_total = sum(expected[("acme", "2026-01")].values())
    assert sorted((c.period, c.threshold) for c in crossed if c.period == "2026-01") == \
        [("2026-01", t) for t in (50, 80, 100) if jan_total * 100 >= t * 40]


async def test_a_finalized_invoice_never_changes_and_a_restart_bills_nothing_twice(nc):
    await put_cards(nc, [RateCardPublished(**V1)])
    record = gpu_record("r-1", "acme", "H100", datetime(2026, 1, 3, tzinfo=UTC), 3600)
    await publish_usage(nc, record)
    settings = BillingSettings(batch=5, grace_s=0, clock=lambda: NOW)
    consumer = BillingConsumer(nc, settings)
    await consumer.start()
    await consumer.catch_up()
    await consumer.tick(datetime(2026, 2, 1, tzinfo=UTC))
    await consumer.tick(datetime(2026, 2, 1, 1, tzinfo=UTC))  # again: nothing more
    for _ in range(3):
        await publish_usage(nc, record, msg_id=f"dup-{_}")
        restarted = BillingConsumer(nc, settings)
        await restarted.start()
        await restarted.catch_up()
        assert (restarted.billed, restarted.duplicates) == (0, 1)
    stored = await stored_msgs(nc, "EVT", "evt.acme.invoice.>")
    events = [decode(m.data).data for m in stored]
    assert sum(isinstance(e, InvoiceFinalized) for e in events) == 1
    assert events[-1] == next(e for e in events if isinstance(e, InvoiceFinalized))  # nothing after it
    assert events[-1].total == Decimal("2.50")
