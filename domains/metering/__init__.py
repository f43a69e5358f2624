"""Metering: GPU usage from job lifecycles, versioned rate cards, exact rating.

    spans.py       when a job held GPUs (JobPlaced -> release), per attempt
    intervals.py   intervals_for / open_intervals_until: spans cut at boundaries
    records.py     usage_record(interval) -> UsageRecorded (USAGE stream)
    ratecard.py    the `ratecard` aggregate; rate_card_at(cards, t)
    rating.py      rate(usage, card) -> RatedUsage; total; to_cents
    errors.py      MeteringError and subclasses
"""

from domains.metering.intervals import UsageInterval, intervals_for, open_intervals_until
from domains.metering.ratecard import RateCardState, decide, evolve, rate_card_at
from domains.metering.rating import RatedUsage, rate, to_cents, total
from domains.metering.records import usage_record

__all__ = [
    "RateCardState",
    "RatedUsage",
    "UsageInterval",
    "decide",
    "evolve",
    "intervals_for",
    "open_intervals_until",
    "rate",
    "rate_card_at",
    "to_cents",
    "total",
    "usage_record",
]
