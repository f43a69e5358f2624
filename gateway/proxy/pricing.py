"""The token prices the proxy needs to hold budgets: a projection of the platform's rate cards.

Reads the `ratecard` aggregate's `RateCardPublished` events (fed by the
proxy's ProjectionRunner, like the identity model) and answers
`per_1k(model, at)`: the price per 1,000 tokens of the card in force at `at`
(`domains.metering.ratecard.rate_card_at`), or None when no card is in force
or the card has no price for the model. Prices are exact decimals, as
metering rates them; the proxy's spend estimate therefore matches the bill.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from domains.errors import DomainError
from domains.metering.ratecard import rate_card_at
from schemas import Envelope
from schemas.metering import RateCardPublished


class RateCards:
    name = "proxy-ratecards"
    aggregates = frozenset({"ratecard"})

    def __init__(self) -> None:
        self.cards: list[RateCardPublished] = []
        self._position = 0

    def per_1k(self, model: str, at: datetime) -> Decimal | None:
        try:
            card = rate_card_at(self.cards, at)
        except DomainError:  # no card in force
            return None
        return card.tokens_1k.get(model)

    # -- projection protocol --
    def position(self) -> int:
        return self._position

    def reset(self) -> None:
        self.__init__()

    def apply(self, env: Envelope, seq: int) -> bool:
        if seq <= self._position:
            return False
        if isinstance(env.data, RateCardPublished) and all(c.version != env.data.version for c in self.cards):
            self.cards.append(env.data)
        self._position = seq
        return True

    def apply_batch(self, batch) -> int:
        return sum(self.apply(env, seq) for env, seq in batch)

    def state_hash(self) -> str:
        return f"{self.name}@{self._position}/{len(self.cards)}"
