"""The platform's rate cards, as the USAGE projection rates with them: a small EVT projection.

Fed `RateCardPublished` events of the `ratecard` aggregate by a
ProjectionRunner over EVT (in memory; rebuilt by replay). `at(t)` is the
version in force at `t` (`domains.metering.rate_card_at`), or None when none
is (the same rule as `domains.metering.rate_card_at`: the latest
`effective_from <= t`, found by bisection: it runs once per record). The usage projection's composition (service.py) catches this up before
it rates anything, so a replay rates with every card published so far.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_right
from collections.abc import Iterable
from datetime import datetime

from schemas import Envelope
from schemas.metering import RateCardPublished


class RateCards:
    name = "usage-ratecards"
    aggregates = frozenset({"ratecard"})

    def __init__(self, cards: Iterable[RateCardPublished] = ()) -> None:
        self.cards: dict[int, RateCardPublished] = {}
        self._starts: list[datetime] = []
        self._by_start: list[RateCardPublished] = []
        self._position = 0
        for card in cards:
            self.add(card)

    def add(self, card: RateCardPublished) -> None:
        if card.version in self.cards:
            return
        self.cards[card.version] = card
        self._by_start = sorted(self.cards.values(), key=lambda c: c.effective_from)
        self._starts = [c.effective_from for c in self._by_start]

    def at(self, t: datetime) -> RateCardPublished | None:
        i = bisect_right(self._starts, t)
        return self._by_start[i - 1] if i else None

    def version(self, v: int) -> RateCardPublished | None:
        return self.cards.get(v)

    # -- projection protocol --
    def position(self) -> int:
        return self._position

    def reset(self) -> None:
        self.__init__()

    def state_hash(self) -> str:
        """Equal for equal sets of cards (snapshots and replays are checked with it)."""
        body = "".join(self.cards[v].model_dump_json() for v in sorted(self.cards))
        return hashlib.sha256(body.encode()).hexdigest()

    def apply_batch(self, batch) -> int:
        applied = 0
        for env, seq in batch:
            if seq <= self._position:
                continue
            if isinstance(env.data, RateCardPublished):
                self.add(env.data)
            self._position, applied = seq, applied + 1
        return applied

    def apply(self, env: Envelope, seq: int) -> bool:
        return self.apply_batch([(env, seq)]) == 1
