"""Rating one usage line at ingest: the rate card version in force at the usage's start, exactly.

`Rater(cards).rate(kind, item, quantity, unit, at)` -> `Rating(scheme,
unit_price, amount, currency, version, problem)`:
- the price is `domains.billing.pricing.price_for(card, kind, item)` (the
  billing domain's rule: a model's scheme in gpu_prices / prompt_prices /
  completion_prices, else the flat gpu_hour / tokens_1k price);
- per_unit lines get the record's own amount = quantity x unit_price / units
  per priced unit (3,600 GPU-seconds, 1,000 tokens), rounded once,
  ROUND_HALF_EVEN, to 12 decimals (integer arithmetic, no float);
- graduated and package prices are defined on a line's total, not per record:
  unit_price and amount are 0 and the preview prices the summed quantity
  (queries.py), as the invoice does;
- no card in force, or no price for the model: version 0, `problem` = the
  error code ("no_rate_card_in_force", "unknown_gpu_model", ...): the row is
  kept (the usage happened) and shown as unrated, never priced at 0 silently.
Prices and quantities must fit Decimal(38, 9): a value with more decimals is a
ValueError (the sink dead-letters the record) rather than a truncated price.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from domains.billing.pricing import PER_PRICED_UNIT, price_for
from domains.errors import DomainError
from projections.usage.ratecards import RateCards

ZERO = Decimal(0)
SCALE = 9  # decimals of quantity and unit_price columns
AMOUNT_SCALE = 12
_NO_CARD = ("", ZERO, ZERO, "", 0, "no_rate_card_in_force")
_TEN9 = 10**SCALE


@dataclass(frozen=True)
class Rating:
    scheme: str
    unit_price: Decimal
    amount: Decimal
    currency: str
    version: int
    problem: str = ""


def scaled(value: Decimal | int, name: str) -> int:
    """`value` x 10^9 as an int; ValueError if it has more than 9 decimals."""
    if isinstance(value, int):
        return value * _TEN9
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -SCALE and value != value.quantize(Decimal(1).scaleb(-SCALE)):
        raise ValueError(f"{name}: {value} has more than {SCALE} decimals")
    return int(value.scaleb(SCALE))


class Rater:
    def __init__(self, cards: RateCards) -> None:
        self.cards = cards
        self._prices: dict[tuple[int, str, str], tuple[str, Decimal, int] | str] = {}

    def rate(self, kind: str, item: str, quantity: Decimal, unit: str, at: datetime) -> Rating:
        return Rating(*self.values(kind, item, quantity, unit, at))

    def values(self, kind: str, item: str, quantity: Decimal | int, unit: str, at: datetime) -> tuple:
        """`rate` as a plain tuple (scheme, unit_price, amount, currency, version, problem): the hot path.

        The price of each (card version, kind, item) is worked out once and
        kept; rating a record is then a lookup and one integer multiply.
        """
        card = self.cards.at(at)
        if card is None:
            return _NO_CARD
        key = (card.version, kind, item)
        found = self._prices.get(key)
        if found is None:
            found = self._prices[key] = self._price(card, kind, item)
        if isinstance(found, str):
            return ("", ZERO, ZERO, card.currency, 0, found)
        scheme, unit_price, price_scaled = found
        if scheme != "per_unit":
            return (scheme, ZERO, ZERO, card.currency, card.version, "")
        return (scheme, unit_price, _amount(scaled(quantity, "quantity"), price_scaled, PER_PRICED_UNIT[unit]),
                card.currency, card.version, "")

    @staticmethod
    def _price(card, kind: str, item: str) -> tuple[str, Decimal, int] | str:
        try:
            price = price_for(card, kind, item)
        except DomainError as exc:
            return exc.code
        if price.scheme != "per_unit":
            return (price.scheme, ZERO, 0)
        return ("per_unit", price.unit_price, scaled(price.unit_price, "unit_price"))


def _amount(quantity_scaled: int, price_scaled: int, per: int) -> Decimal:
    """(q / 10^9) x (p / 10^9) / per, rounded half-even to 12 decimals."""
    den = 10 ** (2 * SCALE - AMOUNT_SCALE) * per
    quo, rem = divmod(quantity_scaled * price_scaled, den)
    if 2 * rem > den or (2 * rem == den and quo % 2):
        quo += 1
    return Decimal(quo).scaleb(-AMOUNT_SCALE)
