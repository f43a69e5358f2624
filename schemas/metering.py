"""Metering: usage records and versioned rate cards (metering domain).

- `UsageRecorded` travels on the `USAGE` stream (`usage.<tenant>.<source>`).
  `record_id` is deterministic (`derived_id("usage", job_id, attempt,
  interval_start)` for GPU usage), so re-deriving usage from the job log
  republishes the same ids and JetStream dedupe drops the copies.
- Rate cards are platform events: aggregate `ratecard`, id `default`, tenant
  `_platform`. Versions are consecutive (1, 2, ...) and every version's
  `effective_from` is later than the previous one's.

Money and quantities are exact decimals carried as JSON strings ("2.50"):
floats are refused on input because a binary float cannot hold most decimal
prices exactly.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BeforeValidator,
    Field,
    PlainSerializer,
    StringConstraints,
    model_validator,
)

from schemas.base import Command, Event
from schemas.values import Token


def _exact_decimal(value: Any) -> Any:
    if isinstance(value, float):
        raise ValueError("must be a decimal string such as \"2.50\", not a float")
    if isinstance(value, (str, int, Decimal)) and not isinstance(value, bool):
        try:
            parsed = Decimal(value)
        except ArithmeticError:
            raise ValueError(f"not a decimal number: {value!r}") from None
        if not parsed.is_finite():
            raise ValueError(f"must be a finite decimal, got {value!r}")
        return parsed
    return value


# A non-negative exact decimal, written to JSON as a string.
DecimalString = Annotated[
    Decimal,
    BeforeValidator(_exact_decimal),
    Field(ge=0),
    PlainSerializer(lambda d: str(d), return_type=str, when_used="json"),
]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
ModelName = Annotated[str, StringConstraints(min_length=1, max_length=256)]
UsageSource = Literal["gpu", "tokens"]
UsageUnit = Literal["gpu_second", "token"]


class UsageRecorded(Event):
    """One metered amount over [start, end): GPU-seconds of a job, or tokens of a model."""

    TYPE = "tessera.metering.usage_recorded.v1"
    record_id: str = Field(min_length=1)
    tenant: Token
    job_id: Token | None = None
    source: UsageSource
    gpu_model: ModelName | None = None  # source=gpu: the GPU model billed
    model: ModelName | None = None  # source=tokens: the served model billed
    gpus: Annotated[int, Field(ge=0)] | None = None  # source=gpu: GPUs held in the interval
    attempt: Annotated[int, Field(ge=1)] | None = None  # source=gpu: placement ordinal
    quantity: DecimalString
    unit: UsageUnit
    start: AwareDatetime
    end: AwareDatetime

    @model_validator(mode="after")
    def _ends_after_start(self) -> UsageRecorded:
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self


class PublishRateCard(Command):
    TYPE = "tessera.metering.publish_rate_card.v1"
    version: Annotated[int, Field(ge=1)]
    effective_from: AwareDatetime
    currency: Currency = "USD"
    gpu_hour: dict[ModelName, DecimalString] = Field(default_factory=dict)  # per GPU-hour, by GPU model
    tokens_1k: dict[ModelName, DecimalString] = Field(default_factory=dict)  # per 1,000 tokens, by model


class RateCardPublished(Event):
    TYPE = "tessera.metering.rate_card_published.v1"
    version: Annotated[int, Field(ge=1)]
    effective_from: AwareDatetime
    currency: Currency = "USD"
    gpu_hour: dict[ModelName, DecimalString] = Field(default_factory=dict)
    tokens_1k: dict[ModelName, DecimalString] = Field(default_factory=dict)
