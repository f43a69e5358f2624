"""`UsageProjection(nc, client)`: the rate cards from EVT and the usage records from USAGE, wired.

`catch_up()` brings the rate cards up to the end of EVT first, then rates and
stores every USAGE record not stored yet; `run(stop)` does that and then
follows both streams until `stop` is set. Rating therefore sees every card
published before the catch-up (a replay from zero rates with the same cards
as the live run did, unless a card was published later with an earlier
`effective_from`: such a card applies to records ingested after it). Each
runner keeps its own tracking (cards in memory, usage in ClickHouse).
"""

from __future__ import annotations

import asyncio

from projections.runner import ProjectionRunner
from projections.usage.ratecards import RateCards
from projections.usage.sink import UsageSink


class UsageProjection:
    def __init__(self, nc, client, *, database: str = "tessera", period: str = "monthly",
                 batch_size: int = 1000, catch_up_batch: int = 50_000) -> None:
        self.cards = RateCards()
        self.sink = UsageSink(client, self.cards, database=database, period=period)
        self.cards_runner = ProjectionRunner(nc, self.cards)
        self.runner = ProjectionRunner(nc, self.sink, stream="USAGE", batch_size=batch_size,
                                       catch_up_batch=catch_up_batch)
        self._ready = False

    async def catch_up(self) -> int:
        if not self._ready:
            await asyncio.to_thread(self.sink.setup)
            self._ready = True
        await self.cards_runner.catch_up()
        return await self.runner.catch_up()

    async def rebuild(self, *, until: int | None = None, usage_until: int | None = None) -> int:
        """Every table emptied and rebuilt from USAGE sequence 1 (to `usage_until`), rated with the cards
        of EVT (up to `until`: a past state); returns the USAGE position."""
        if not self._ready:
            await asyncio.to_thread(self.sink.setup)
            self._ready = True
        await self.cards_runner.catch_up(until=until)
        return await self.runner.rebuild(until=usage_until)

    async def run(self, stop: asyncio.Event) -> None:
        await self.catch_up()
        await asyncio.gather(self.cards_runner.run(stop), self.runner.run(stop))
