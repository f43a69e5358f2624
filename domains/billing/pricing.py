"""Pricing a line: which `Price` a rate card gives a line, and its exact amount.

`price_for(card, kind, item)` resolves a line's price on one rate card
version: the scheme in `gpu_prices` / `prompt_prices` / `completion_prices`
if the model has one, else the flat `gpu_hour` / `tokens_1k` price as
per_unit. Unknown models raise `UnknownGpuModel` / `UnknownTokenModel`.

`amount(price, units)` is exact (a Fraction) for `units` in PRICED units
(GPU-hours; thousands of tokens):
- per_unit: units x unit_price;
- graduated: each tier's units at its price; tier i covers (up_to[i-1], up_to[i]],
  so with tiers up to 10 at 2.00 then 1.00, 10 units cost 20.00 and 10.5 cost 20.50;
- package: ceil(units / size) packages ("up": every started package) or
  floor(...) ("down": complete packages only), times package_price. 0 units cost 0.

`line_amount(price, quantity, unit)` converts a metered quantity (GPU-seconds,
tokens) to priced units exactly and rounds the line total once to the cent,
ROUND_HALF_EVEN (`domains.metering.to_cents`).
"""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

from domains.metering.errors import UnknownGpuModel, UnknownTokenModel
from domains.metering.rating import to_cents
from schemas.metering import Price, RateCardPublished

CENT = Decimal("0.01")
PER_PRICED_UNIT = {"gpu_second": 3600, "token": 1000}  # metered units in one priced unit
UNITS = {"gpu": ("gpu_second", "gpu_hour"), "tokens": ("token", "1k_tokens"),
         "prompt_tokens": ("token", "1k_tokens"), "completion_tokens": ("token", "1k_tokens")}


def price_for(card: RateCardPublished, kind: str, item: str) -> Price:
    schemes = {"gpu": card.gpu_prices, "prompt_tokens": card.prompt_prices,
               "completion_tokens": card.completion_prices}.get(kind, {})
    if item in schemes:
        return schemes[item]
    flat = card.gpu_hour if kind == "gpu" else card.tokens_1k
    if item in flat:
        return Price(scheme="per_unit", unit_price=flat[item])
    if kind == "gpu":
        raise UnknownGpuModel(f"gpu_model: rate card v{card.version} has no GPU-hour price for {item!r}",
                              field="gpu_model")
    raise UnknownTokenModel(f"model: rate card v{card.version} has no token price for {item!r}", field="model")


def amount(price: Price, units: Fraction) -> Fraction:
    if units <= 0:
        return Fraction(0)
    if price.scheme == "per_unit":
        return units * Fraction(price.unit_price)
    if price.scheme == "graduated":
        total, low = Fraction(0), Fraction(0)
        for tier in price.tiers:
            high = Fraction(tier.up_to) if tier.up_to is not None else None
            in_tier = (units if high is None else min(units, high)) - low
            if in_tier <= 0:
                break
            total += in_tier * Fraction(tier.unit_price)
            if high is None:
                break
            low = high
        return total
    packages = units / Fraction(price.package_size)
    count = math.ceil(packages) if price.package_rounding == "up" else math.floor(packages)
    return count * Fraction(price.package_price)


def priced_units(quantity: Decimal, unit: str) -> Fraction:
    return Fraction(quantity) / PER_PRICED_UNIT[unit]


def cents(value: Fraction | Decimal) -> Decimal:
    """Rounded once to the cent, ROUND_HALF_EVEN, always written with two decimals ("0.00")."""
    return to_cents(value).quantize(CENT)


def line_amount(price: Price, quantity: Decimal, unit: str) -> Decimal:
    return cents(amount(price, priced_units(quantity, unit)))
