"""Job-history and rate-card factories for the metering domain tests.

Job histories are lists of (time, event) pairs, as `intervals_for` reads them.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

from schemas.jobs import (
    JobCancelled,
    JobFailed,
    JobPlaced,
    JobPreempted,
    JobQueued,
    JobRequeued,
    JobRunning,
    JobSpec,
    JobSubmitted,
    JobSucceeded,
    Placement,
)
from schemas.metering import PublishRateCard, RateCardPublished, UsageRecorded
from schemas.values import WaitReason

T0 = datetime(2026, 11, 15, 10, 0, tzinfo=timezone.utc)  # on an hour boundary
HOUR = 3600
TENANT = "acme"
JOB = "j1"


def t(seconds: float = 0, *, minutes: float = 0, hours: float = 0) -> datetime:
    return T0 + timedelta(seconds=seconds, minutes=minutes, hours=hours)


def submitted(at: datetime, gpus: int = 8, gpu_model: str = "H100", job: str = JOB):
    spec = JobSpec(name="train", image="img:1", gpus=gpus, gpu_model=gpu_model if gpus else None)
    return at, JobSubmitted(job_id=job, spec=spec)


def queued(at: datetime, gpus: int = 8, gpu_model: str = "H100", job: str = JOB):
    spec = JobSpec(name="train", image="img:1", gpus=gpus, gpu_model=gpu_model if gpus else None)
    return at, JobQueued(job_id=job, spec=spec)


def placed(at: datetime, gpus: int = 8, gpu_model: str | None = "H100", job: str = JOB,
           members: int = 1, indices: bool = True):
    placements = [Placement(cluster="c1", node=f"n{m}", gpu_indices=list(range(gpus)) if indices else [])
                  for m in range(members)]
    return at, JobPlaced(job_id=job, placements=placements, gpu_model=gpu_model)


def running(at: datetime, job: str = JOB):
    return at, JobRunning(job_id=job)


def requeued(at: datetime, attempt: int = 1, job: str = JOB):
    return at, JobRequeued(job_id=job, reason=WaitReason(code="node_lost"), attempt=attempt)


def succeeded(at: datetime, job: str = JOB):
    return at, JobSucceeded(job_id=job)


def failed(at: datetime, job: str = JOB):
    return at, JobFailed(job_id=job, exit_code=1)


def cancelled(at: datetime, job: str = JOB):
    return at, JobCancelled(job_id=job)


def preempted(at: datetime, job: str = JOB):
    return at, JobPreempted(job_id=job, by_job="j9", reason=WaitReason(code="preempted"))


def card_fields(version: int = 1, effective_from: datetime = T0, **prices) -> dict:
    prices.setdefault("gpu_hour", {"H100": "2.50", "A100": "1.20"})
    return dict(version=version, effective_from=effective_from, **prices)


def rate_card(version: int = 1, effective_from: datetime = T0, **prices) -> RateCardPublished:
    return RateCardPublished(**card_fields(version, effective_from, **prices))


def publish_rate_card(version: int = 1, effective_from: datetime = T0, **prices) -> PublishRateCard:
    return PublishRateCard(**card_fields(version, effective_from, **prices))


def gpu_usage(seconds: str, gpu_model: str = "H100", record_id: str = "r1", start: datetime = T0,
              gpus: int = 1) -> UsageRecorded:
    quantity = Decimal(seconds) * gpus
    return UsageRecorded(record_id=record_id, tenant=TENANT, job_id=JOB, source="gpu", gpu_model=gpu_model,
                         gpus=gpus, attempt=1, quantity=quantity, unit="gpu_second", start=start,
                         end=start + timedelta(seconds=float(seconds)))


def token_usage(tokens: int, model: str = "llama-3-8b", record_id: str = "t1") -> UsageRecorded:
    return UsageRecorded(record_id=record_id, tenant=TENANT, source="tokens", model=model,
                         quantity=Decimal(tokens), unit="token", start=T0, end=t(1))
