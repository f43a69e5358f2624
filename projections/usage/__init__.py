"""The USAGE projection: inference requests and rated usage in ClickHouse, with rollups.

    schema.py     tables (position = max seq per table), rollup views, rollup rebuild
    ratecards.py  RateCards: the rate cards, an EVT projection (`at(t)`, `version(v)`)
    rating.py     Rater: a line's price and exact per-record amount at ingest
    convert.py    pure converters: a record -> rows; dedupe by record id (`Seen`)
    sink.py       UsageSink: stores a batch's rows, then the tracking row
    queries.py    invoice preview (rollup and raw), per-minute inference, digests
    service.py    UsageProjection: cards from EVT, then records from USAGE
"""

from projections.usage.ratecards import RateCards
from projections.usage.sink import UsageSink

__all__ = ["RateCards", "UsageSink"]
