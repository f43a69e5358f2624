"""GPU holding spans of one job, read from its lifecycle events.

Decision: a job is billed from `JobPlaced`, not `JobRunning`: its GPUs are
reserved for it from placement on (no other job can use them while the image
pulls or the VM boots), so placement is what costs. A span ends at the first
of JobRequeued, JobSucceeded, JobFailed, JobCancelled, JobPreempted; a span
without an end is still running (`end is None`).

Every span has an `attempt`: the 1-based ordinal of its `JobPlaced` in the
job's history, which is stable under re-derivation whatever numbering the
scheduler uses for retries. GPUs held = the GPU indices of every placement
(a placement listing no indices counts the spec's per-member `gpus`). The GPU
model is `JobPlaced.gpu_model`, else the spec's; spans holding no GPU are
dropped (CPU-only work is not GPU usage).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from domains.metering.errors import InconsistentJobHistory
from schemas.base import Event
from schemas.jobs import (
    JobCancelled,
    JobFailed,
    JobPlaced,
    JobPreempted,
    JobQueued,
    JobRequeued,
    JobSpec,
    JobSubmitted,
    JobSucceeded,
)

RELEASES = (JobRequeued, JobSucceeded, JobFailed, JobCancelled, JobPreempted)
TimedEvent = tuple[datetime, Event]


@dataclass(frozen=True)
class Span:
    job_id: str
    attempt: int
    gpu_model: str
    gpus: int
    start: datetime
    end: datetime | None  # None: the GPUs are still held


def spans_of(history: Iterable[TimedEvent]) -> list[Span]:
    spans: list[Span] = []
    spec: JobSpec | None = None
    held: Span | None = None
    attempt = 0
    for at, event in history:
        if at.tzinfo is None:
            raise InconsistentJobHistory(f"time: naive datetime {at} in the job history", field="time")
        if isinstance(event, (JobSubmitted, JobQueued)):
            spec = event.spec
        elif isinstance(event, JobPlaced):
            if held is not None:
                raise InconsistentJobHistory(
                    f"history: job {event.job_id} placed again while holding GPUs since {held.start}",
                    field="history",
                )
            attempt += 1
            held = _open(event, spec, attempt, at)
        elif isinstance(event, RELEASES) and held is not None:
            spans.append(Span(held.job_id, held.attempt, held.gpu_model, held.gpus, held.start, at))
            held = None
    if held is not None:
        spans.append(held)
    return [span for span in spans if span.gpus > 0]


def _open(event: JobPlaced, spec: JobSpec | None, attempt: int, at: datetime) -> Span:
    per_member = spec.gpus if spec is not None else 0
    gpus = sum(len(p.gpu_indices) or per_member for p in event.placements)
    model = event.gpu_model or (spec.gpu_model if spec is not None else None)
    if gpus and not model:
        raise InconsistentJobHistory(
            f"gpu_model: job {event.job_id} holds {gpus} GPUs of no known model", field="gpu_model"
        )
    return Span(event.job_id, attempt, model or "", gpus, at, None)
