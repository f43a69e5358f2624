"""GPU usage intervals: a job's holding spans cut at fixed, epoch-aligned boundaries.

`intervals_for(history, *, tenant, now, interval_s)` returns the CLOSED
intervals only: every piece of a finished span, and the pieces of a running
span that ended at a boundary at or before `now`. A long job therefore bills
one interval per boundary as it runs (hourly with `interval_s=3600`: pieces
are aligned to the hour because the epoch is). `open_intervals_until(...)`
returns the provisional piece of a running span from its last boundary to
`now`: for display and budget estimates, never recorded (its id is the id of
the closed interval it will become).

Guarantees: pure and deterministic; `record_id = derived_id("usage", job_id,
attempt, interval_start)`, so re-deriving at a later `now` yields the same
ids and quantities for every interval already closed, and a consumer that
records each id once never double-counts. `seconds` is exact (Decimal, to the
microsecond).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from domains.metering.errors import MeteringError
from domains.metering.spans import Span, TimedEvent, spans_of
from schemas.ids import derived_id

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True)
class UsageInterval:
    record_id: str
    job_id: str
    tenant: str
    gpu_model: str
    gpus: int
    attempt: int
    start: datetime
    end: datetime
    seconds: Decimal  # wall-clock seconds; GPU-seconds = seconds x gpus
    closed: bool = True

    @property
    def gpu_seconds(self) -> Decimal:
        return self.seconds * self.gpus


def intervals_for(history: Iterable[TimedEvent], *, tenant: str, now: datetime,
                  interval_s: int) -> list[UsageInterval]:
    step = _step(interval_s, now)
    out = []
    for span in spans_of(history):
        end = span.end if span.end is not None else now
        for start, stop in _pieces(span.start, end, step):
            if span.end is not None or stop == _next_boundary(start, step):
                out.append(_interval(span, tenant, start, stop, closed=True))
    return out


def open_intervals_until(history: Iterable[TimedEvent], *, tenant: str, now: datetime,
                         interval_s: int) -> list[UsageInterval]:
    step = _step(interval_s, now)
    out = []
    for span in spans_of(history):
        if span.end is not None or now <= span.start:
            continue
        start = max(span.start, _next_boundary(now, step) - step)
        if start < now:
            out.append(_interval(span, tenant, start, now, closed=False))
    return out


def _step(interval_s: int, now: datetime) -> timedelta:
    if now.tzinfo is None:
        raise MeteringError(f"now: must be timezone-aware, got {now}", field="now")
    if isinstance(interval_s, bool) or not isinstance(interval_s, int) or interval_s <= 0:
        raise MeteringError(f"interval_s: must be a positive whole number of seconds, got {interval_s!r}",
                            field="interval_s")
    return timedelta(seconds=interval_s)


def _next_boundary(t: datetime, step: timedelta) -> datetime:
    """The first boundary strictly after `t`."""
    return t - (t - EPOCH) % step + step


def _pieces(start: datetime, end: datetime, step: timedelta) -> Iterator[tuple[datetime, datetime]]:
    while start < end:
        stop = min(_next_boundary(start, step), end)
        yield start, stop
        start = stop


def _interval(span: Span, tenant: str, start: datetime, end: datetime, *, closed: bool) -> UsageInterval:
    start, end = start.astimezone(timezone.utc), end.astimezone(timezone.utc)
    seconds = Decimal((end - start) // _MICROSECOND).scaleb(-6)
    record_id = derived_id("usage", span.job_id, span.attempt, start.isoformat())
    return UsageInterval(record_id, span.job_id, tenant, span.gpu_model, span.gpus, span.attempt,
                         start, end, seconds, closed)
