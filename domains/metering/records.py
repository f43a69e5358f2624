"""Closed GPU usage intervals as `UsageRecorded` payloads for the USAGE stream.

Guarantees: the record id is the interval's deterministic id and the quantity
is exact GPU-seconds (seconds x GPUs), so publishing the same interval twice
produces the same message id for JetStream dedupe. A provisional (open)
interval is refused: recording it would bill a piece whose end is not known.
"""

from __future__ import annotations

from domains.metering.errors import MeteringError
from domains.metering.intervals import UsageInterval
from schemas.metering import UsageRecorded


def usage_record(interval: UsageInterval) -> UsageRecorded:
    if not interval.closed:
        raise MeteringError(
            f"interval: {interval.record_id} is still open (until {interval.end}); only closed intervals are recorded",
            field="interval",
        )
    return UsageRecorded(
        record_id=interval.record_id,
        tenant=interval.tenant,
        job_id=interval.job_id,
        source="gpu",
        gpu_model=interval.gpu_model,
        gpus=interval.gpus,
        attempt=interval.attempt,
        quantity=interval.gpu_seconds,
        unit="gpu_second",
        start=interval.start,
        end=interval.end,
    )
