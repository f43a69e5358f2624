"""USAGE records (GPU intervals, inference requests) and rate cards, as the USAGE projection reads them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from schemas import Envelope
from schemas.metering import RateCardPublished, UsageRecorded
from schemas.usage import InferenceRequestRecorded

T0 = datetime(2026, 11, 15, 10, 0, tzinfo=UTC)


def at(seconds: float = 0) -> datetime:
    return T0 + timedelta(seconds=seconds)


def card(version: int = 1, effective_from: datetime = datetime(2026, 1, 1, tzinfo=UTC),
         **prices) -> RateCardPublished:
    prices.setdefault("gpu_hour", {"H100": "2.50", "A100": "1.20"})
    prices.setdefault("tokens_1k", {"llama": "0.002", "smol": "0.0005"})
    return RateCardPublished(version=version, effective_from=effective_from, **prices)


def gpu(record_id: str, *, tenant: str = "acme", seconds: str = "3600", model: str = "H100",
        start: datetime = T0, job: str = "j1") -> UsageRecorded:
    return UsageRecorded(record_id=record_id, tenant=tenant, job_id=job, source="gpu", gpu_model=model, gpus=1,
                         attempt=1, quantity=Decimal(seconds), unit="gpu_second", start=start,
                         end=start + timedelta(seconds=float(seconds)))


def request(request_id: str, *, tenant: str = "acme", model: str = "llama", prompt: int = 100,
            completion: int = 50, latency: float = 120.0, start: datetime = T0, outcome: str = "ok",
            key: str = "k1") -> InferenceRequestRecorded:
    return InferenceRequestRecorded(
        request_id=request_id, tenant=tenant, key_id=key, model=model, endpoint="chat.completions", outcome=outcome,
        status=200 if outcome == "ok" else 502, prompt_tokens=prompt, completion_tokens=completion, start=start,
        end=start + timedelta(milliseconds=latency), latency_ms=latency)


def envelope(record: UsageRecorded | InferenceRequestRecorded, *, tenant: str | None = None) -> Envelope:
    rid = record.record_id if isinstance(record, UsageRecorded) else record.request_id
    return Envelope(specversion="1.0", id=rid, source="/tests", type=record.TYPE, time=record.end,
                    tenant=tenant or record.tenant, actor="tests", correlationid=rid, data=record, aggregate="usage",
                    aggregateid=rid, version=1)


def batch(*records, first_seq: int = 1) -> list[tuple[Envelope, int]]:
    return [(envelope(r), first_seq + i) for i, r in enumerate(records)]
