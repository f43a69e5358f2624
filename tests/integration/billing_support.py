"""Shared pieces of the billing tests: envelopes on a real log, usage records, an independent price oracle.

The oracle (`truth_amount`) prices with its own arithmetic (Fractions, then a
60-digit Decimal quantized ROUND_HALF_EVEN), not with domains.billing, so an
invoice that equals it to the cent is checked against the records, not
against the code under test.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from fractions import Fraction

from bus.eventstore.config import StoreConfig
from bus.eventstore.mapper import EnvelopeMapper
from bus.eventstore.store import EventLog
from bus.publish import OutMsg, Publisher
from schemas import PLATFORM_TENANT, Envelope, derived_id, encode
from schemas.metering import UsageRecorded
from schemas.usage import InferenceRequestRecorded


async def put_events(nc, tenant: str, aggregate: str, aggregate_id: str, events, *, first_version: int = 1):
    envs = [Envelope(specversion="1.0", id=derived_id("test", tenant, aggregate, aggregate_id, first_version + i),
                     source="/tests", type=e.TYPE, time=datetime.now(UTC), tenant=tenant, actor="test",
                     correlationid="test", data=e, aggregate=aggregate, aggregateid=aggregate_id,
                     version=first_version + i) for i, e in enumerate(events)]
    await EventLog(nc, StoreConfig()).insert([EnvelopeMapper().to_stored_event(e) for e in envs])
    return envs


async def put_cards(nc, cards):
    await put_events(nc, PLATFORM_TENANT, "ratecard", "default", cards)


def gpu_record(record_id: str, tenant: str, model: str, start: datetime, seconds: int, gpus: int = 1):
    return UsageRecorded(record_id=record_id, tenant=tenant, job_id="job-1", source="gpu", gpu_model=model,
                         gpus=gpus, attempt=1, quantity=Decimal(seconds * gpus), unit="gpu_second", start=start,
                         end=start + timedelta(seconds=seconds))


def inference_record(request_id: str, tenant: str, model: str, start: datetime, prompt: int, completion: int):
    return InferenceRequestRecorded(request_id=request_id, tenant=tenant, key_id="key1", model=model,
                                    endpoint="chat.completions", outcome="ok", status=200, prompt_tokens=prompt,
                                    completion_tokens=completion, start=start, end=start, latency_ms=3.0)


async def publish_usage(nc, record, *, msg_id: str | None = None) -> None:
    """One record on USAGE as its producer publishes it; a different `msg_id` = a copy past JetStream dedupe."""
    ident = getattr(record, "record_id", None) or record.request_id
    source = "inference" if isinstance(record, InferenceRequestRecorded) else "gpu"
    env = Envelope(specversion="1.0", id=ident, source="/tests/usage", type=record.TYPE, time=record.end,
                   tenant=record.tenant, actor="metering", correlationid=ident, data=record, aggregate="usage",
                   aggregateid=ident, version=1)
    await Publisher(nc, stream="USAGE").publish(OutMsg(f"usage.{record.tenant}.{source}", encode(env),
                                                       msg_id or ident))


def truth_amount(price: dict, units: Fraction) -> Decimal:
    """An independent pricing of `units` priced units; the line total rounded half-even to the cent."""
    scheme = price.get("scheme", "per_unit")
    if units == 0:
        exact = Fraction(0)
    elif scheme == "per_unit":
        exact = units * Fraction(price["unit_price"])
    elif scheme == "graduated":
        exact, low = Fraction(0), Fraction(0)
        for tier in price["tiers"]:
            high = Fraction(tier["up_to"]) if tier.get("up_to") is not None else units
            exact += max(Fraction(0), min(units, high) - low) * Fraction(tier["unit_price"])
            low = high
            if low >= units:
                break
    else:
        n = units / Fraction(price["package_size"])
        exact = (math.ceil(n) if price.get("package_rounding", "up") == "up" else math.floor(n)) * \
            Fraction(price["package_price"])
    with localcontext() as ctx:
        ctx.prec = 60
        return (Decimal(exact.numerator) / Decimal(exact.denominator)).quantize(Decimal("0.01"),
                                                                                 rounding=ROUND_HALF_EVEN)
