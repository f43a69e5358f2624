"""Rating: usage x the rate card in force = an amount, in exact arithmetic.

`rate(usage, card) -> RatedUsage`. GPU usage is priced per GPU-hour:
amount = GPU-seconds x price / 3600; token usage per 1,000 tokens.

Exactness: prices and quantities are exact decimals, but a price per hour
divided by 3600 is usually not a finite decimal (1 GPU-second of H100 at
2.50/h is 0.000694444...). `RatedUsage.exact` therefore keeps the amount as
an exact rational; `amount` shows it as a Decimal to 34 significant digits.
Nothing is rounded until presentation: `total(...)` sums the exact amounts
and `to_cents(...)` rounds once, ROUND_HALF_EVEN, to the currency's minor
unit. So many small intervals rate to exactly the rate of their total.

A usage is priced with the card the caller selected (`rate_card_at(cards,
usage.start)`): an interval is priced by the card in force when it started.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Context, Decimal
from fractions import Fraction

from domains.metering.errors import MeteringError, UnknownGpuModel, UnknownTokenModel
from schemas.metering import RateCardPublished, UsageRecorded

_DISPLAY = Context(prec=34)
_PER = {"gpu_second": 3600, "token": 1000}  # quantity units per priced unit


@dataclass(frozen=True)
class RatedUsage:
    record_id: str
    tenant: str
    source: str
    item: str  # the GPU model or served model priced
    quantity: Decimal
    unit: str
    unit_price: Decimal  # per GPU-hour or per 1,000 tokens
    currency: str
    rate_card_version: int
    exact: Fraction

    @property
    def amount(self) -> Decimal:
        return _DISPLAY.divide(Decimal(self.exact.numerator), Decimal(self.exact.denominator))


def rate(usage: UsageRecorded, card: RateCardPublished) -> RatedUsage:
    if (usage.source == "gpu") != (usage.unit == "gpu_second"):
        raise MeteringError(f"unit: {usage.unit!r} does not fit source {usage.source!r}", field="unit")
    item, price = _price(usage, card)
    exact = Fraction(usage.quantity) * Fraction(price) / _PER[usage.unit]
    return RatedUsage(usage.record_id, usage.tenant, usage.source, item, usage.quantity, usage.unit,
                      price, card.currency, card.version, exact)


def _price(usage: UsageRecorded, card: RateCardPublished) -> tuple[str, Decimal]:
    if usage.source == "gpu":
        model = usage.gpu_model or ""
        if model not in card.gpu_hour:
            raise UnknownGpuModel(
                f"gpu_model: rate card v{card.version} has no GPU-hour price for GPU model {model!r}",
                field="gpu_model",
            )
        return model, card.gpu_hour[model]
    model = usage.model or ""
    if model not in card.tokens_1k:
        raise UnknownTokenModel(
            f"model: rate card v{card.version} has no per-1k-token price for model {model!r}", field="model"
        )
    return model, card.tokens_1k[model]


def total(rated: Iterable[RatedUsage]) -> Fraction:
    """The exact sum; all items must be in one currency."""
    currencies = set()
    amount = Fraction(0)
    for item in rated:
        currencies.add(item.currency)
        amount += item.exact
    if len(currencies) > 1:
        raise MeteringError(f"currency: cannot total amounts in {sorted(currencies)}", field="currency")
    return amount


def to_cents(amount: Fraction | Decimal, places: int = 2) -> Decimal:
    """Round once for presentation: ROUND_HALF_EVEN to `places` decimals (cents by default)."""
    if isinstance(amount, Decimal):
        return amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)
    return Decimal(round(amount * 10**places)).scaleb(-places)
