"""Budgets and invoices through the real ControlPlane on a real nats-server.

Commands enter CMD as the gateway sends them (rate card, budgets, jobs, void);
the billing consumer bills USAGE; the plane's admission reactor reads the
budget crossings off EVT. Checked: a hard budget at 100% rejects new GPU work
with `budget_exhausted{budget=spend, ...}` while CPU work and a soft-budget
tenant are admitted; each threshold is announced once; voiding twice is
dead-lettered as an illegal transition.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bus.billing import BillingConsumer, BillingSettings
from bus.commands import send
from bus.connection import Bus, connect
from bus.control import ControlPlane, ControlSettings
from bus.publish import Publisher
from bus.streams import ensure_streams
from schemas import PLATFORM_TENANT, Envelope, decode
from schemas import jobs as j
from schemas.billing import BudgetThresholdCrossed, SetBudget, VoidInvoice
from schemas.metering import PublishRateCard
from tests.factories.control import eventually, spec
from tests.integration.billing_support import gpu_record, publish_usage
from tests.integration.conftest import stored_msgs


@pytest.fixture
async def bus(nats_server, settings):
    nc = await connect(nats_server.url, settings)
    await ensure_streams(nc.jetstream(), settings)
    yield Bus(nc=nc, js=nc.jetstream(), settings=settings, url=nats_server.url)
    await nc.close()


@pytest.fixture
async def plane(bus):
    plane = ControlPlane(bus, ControlSettings(drain_timeout=2.0))
    await plane.start()
    yield plane
    await plane.stop()


async def command(bus: Bus, tenant: str, cmd) -> Envelope:
    env = Envelope.for_command(cmd, tenant=tenant, actor="user:_platform/root", source="/tests/gateway",
                               time=datetime.now(UTC))
    await send(Publisher(bus.nc, stream="CMD"), env)
    return env


async def job_outcome(bus: Bus, tenant: str, job_id: str):
    async def outcome():
        events = [decode(m.data).data for m in await stored_msgs(bus.nc, "EVT", f"evt.{tenant}.job.{job_id}.>")]
        return next((e for e in events if isinstance(e, (j.JobAdmitted, j.JobRejected))), None)
    return await eventually(outcome, timeout=15)


async def crossings(bus: Bus, tenant: str) -> list[BudgetThresholdCrossed]:
    return [decode(m.data).data for m in await stored_msgs(bus.nc, "EVT", f"evt.{tenant}.budget.>")]


async def test_a_hard_budget_at_100_percent_stops_new_gpu_work(bus, plane):
    now = datetime.now(UTC)
    await command(bus, PLATFORM_TENANT, PublishRateCard(version=1, effective_from=now - timedelta(days=400),
                                                        gpu_hour={"H100": "2.50"}))
    await command(bus, "acme", SetBudget(tenant="acme", amount="5", mode="hard"))
    await command(bus, "beta", SetBudget(tenant="beta", amount="5", mode="soft"))
    await eventually(lambda: _has(bus, "evt.beta.billing.>"), timeout=15)

    consumer = BillingConsumer(bus.nc, BillingSettings(batch=4))
    month = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    start = max(now - timedelta(hours=3), month)  # all in the current billing period
    for hour in range(3):  # 3 GPU-hours x 2.50 = 7.50 of a 5.00 budget, in the current period
        for tenant in ("acme", "beta"):
            record = gpu_record(f"{tenant}-{hour}", tenant, "H100", start + timedelta(hours=hour), 3600)
            await publish_usage(bus.nc, record)
            await publish_usage(bus.nc, record, msg_id=f"copy-{tenant}-{hour}")
        await consumer.catch_up()
    await consumer.tick(datetime.now(UTC))  # a timer round: nothing new to announce

    for tenant, mode in (("acme", "hard"), ("beta", "soft")):
        announced = await crossings(bus, tenant)
        assert sorted(c.threshold for c in announced) == [50, 80, 100]  # once each
        assert {c.mode for c in announced} == {mode}

    await command(bus, "acme", j.SubmitJob(job_id="gpu-job", spec=spec(1)))
    await command(bus, "acme", j.SubmitJob(job_id="cpu-job", spec=spec(0, gpu_model=None)))
    await command(bus, "beta", j.SubmitJob(job_id="soft-job", spec=spec(1)))
    rejected = await job_outcome(bus, "acme", "gpu-job")
    assert isinstance(rejected, j.JobRejected)
    assert rejected.reason.code == "budget_exhausted"
    assert rejected.reason.details["budget"] == "spend" and rejected.reason.details["limit"] == "5"
    assert isinstance(await job_outcome(bus, "acme", "cpu-job"), j.JobAdmitted)
    assert isinstance(await job_outcome(bus, "beta", "soft-job"), j.JobAdmitted)

    # raising the budget (a new revision) lifts the block
    await command(bus, "acme", SetBudget(tenant="acme", amount="500", mode="hard"))
    await eventually(lambda: _count(bus, "evt.acme.billing.>", 2), timeout=15)
    await command(bus, "acme", j.SubmitJob(job_id="after-raise", spec=spec(1)))
    assert isinstance(await job_outcome(bus, "acme", "after-raise"), j.JobAdmitted)

    # void: draft -> void once; a second void is an illegal transition, dead-lettered
    invoice = f"inv-{now.year:04d}-{now.month:02d}"
    await command(bus, "acme", VoidInvoice(invoice_id=invoice, reason="goodwill"))
    await command(bus, "acme", VoidInvoice(invoice_id=invoice, reason="again"))
    letters = await eventually(lambda: _dead_letters(bus), timeout=15)
    assert any("illegal_invoice_transition" in reason for reason in letters)
    voided = [m for m in await stored_msgs(bus.nc, "EVT", f"evt.acme.invoice.{invoice}.>")
              if m.subject.endswith(".invoice_voided")]
    assert len(voided) == 1


async def _has(bus: Bus, subject: str) -> bool:
    return bool(await stored_msgs(bus.nc, "EVT", subject))


async def _count(bus: Bus, subject: str, n: int) -> bool:
    return len(await stored_msgs(bus.nc, "EVT", subject)) >= n


async def _dead_letters(bus: Bus) -> list[str]:
    return [decode(m.data).data.error for m in await stored_msgs(bus.nc, "DLQ")]
