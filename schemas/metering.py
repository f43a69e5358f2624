"""Metering: usage records and versioned rate cards (metering domain).

- `UsageRecorded` travels on the `USAGE` stream (`usage.<tenant>.<source>`).
  `record_id` is deterministic (`derived_id("usage", job_id, attempt,
  interval_start)` for GPU usage), so re-deriving usage from the job log
  republishes the same ids and JetStream dedupe drops the copies.
- Rate cards are platform events: aggregate `ratecard`, id `default`, tenant
  `_platform`. Versions are consecutive (1, 2, ...) and every version's
  `effective_from` is later than the previous one's.

Pricing schemes (optional, additive): `gpu_prices`, `prompt_prices` and
`completion_prices` give a model a `Price` (per_unit, graduated tiers or
packages); a model without one is priced per unit at `gpu_hour` / `tokens_1k`.

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
from schemas.values import Token, Value


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


PriceScheme = Literal["per_unit", "graduated", "package"]


class PriceTier(Value):
    up_to: DecimalString | None = None  # the cumulative priced units this tier ends at; None: no end (last tier)
    unit_price: DecimalString


class Price(Value):
    """How a line's quantity in priced units (GPU-hours, or thousands of tokens) becomes an amount.

    per_unit: quantity x unit_price. graduated: each tier's units at its own
    price (tiers ascending by `up_to`, the last without one). package: a price
    per package of `package_size` units; `package_rounding` "up" charges every
    started package (ROUND_CEILING), "down" complete packages only (ROUND_FLOOR).
    """

    scheme: PriceScheme = "per_unit"
    unit_price: DecimalString | None = None
    tiers: list[PriceTier] = Field(default_factory=list)
    package_size: DecimalString | None = None
    package_price: DecimalString | None = None
    package_rounding: Literal["up", "down"] = "up"

    @model_validator(mode="after")
    def _fits_scheme(self) -> Price:
        if self.scheme == "per_unit" and self.unit_price is None:
            raise ValueError("unit_price: required for scheme per_unit")
        if self.scheme == "graduated":
            if not self.tiers:
                raise ValueError("tiers: scheme graduated needs at least one tier")
            bounds = [t.up_to for t in self.tiers]
            if bounds[-1] is not None:
                raise ValueError(f"tiers[{len(bounds) - 1}].up_to: the last tier must have no up_to")
            for i in range(len(bounds) - 1):
                low = bounds[i - 1] if i else Decimal(0)
                if bounds[i] is None or bounds[i] <= low:
                    raise ValueError(f"tiers[{i}].up_to: must be set and above the previous tier's ({low})")
        if self.scheme == "package":
            if self.package_size is None or self.package_size <= 0:
                raise ValueError("package_size: scheme package needs a package_size above 0")
            if self.package_price is None:
                raise ValueError("package_price: required for scheme package")
        return self


class PublishRateCard(Command):
    TYPE = "tessera.metering.publish_rate_card.v1"
    version: Annotated[int, Field(ge=1)]
    effective_from: AwareDatetime
    currency: Currency = "USD"
    gpu_hour: dict[ModelName, DecimalString] = Field(default_factory=dict)  # per GPU-hour, by GPU model
    tokens_1k: dict[ModelName, DecimalString] = Field(default_factory=dict)  # per 1,000 tokens, by model
    # Optional pricing schemes (additive, v1 payloads without them still decode): a model listed
    # here is priced by its Price instead of the flat gpu_hour / tokens_1k price.
    gpu_prices: dict[ModelName, Price] = Field(default_factory=dict)  # priced unit: GPU-hour
    prompt_prices: dict[ModelName, Price] = Field(default_factory=dict)  # priced unit: 1,000 prompt tokens
    completion_prices: dict[ModelName, Price] = Field(default_factory=dict)  # 1,000 completion tokens


class RateCardPublished(Event):
    TYPE = "tessera.metering.rate_card_published.v1"
    version: Annotated[int, Field(ge=1)]
    effective_from: AwareDatetime
    currency: Currency = "USD"
    gpu_hour: dict[ModelName, DecimalString] = Field(default_factory=dict)
    tokens_1k: dict[ModelName, DecimalString] = Field(default_factory=dict)
    gpu_prices: dict[ModelName, Price] = Field(default_factory=dict)
    prompt_prices: dict[ModelName, Price] = Field(default_factory=dict)
    completion_prices: dict[ModelName, Price] = Field(default_factory=dict)
