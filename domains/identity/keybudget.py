"""API-key budget alerts: which 50/80/100% thresholds a key's spend reached that were not announced yet.

`due(spent, limit, announced)` -> the thresholds of `schemas.billing.THRESHOLDS`
with spent x 100 >= threshold x limit (exact decimals: 50 of 100 is 50%),
ascending, minus those in `announced`. One rule for both sides: the `apikey`
aggregate decides `ApiKeyBudgetThresholdCrossed` with it (apikeys.py), and
the proxy uses it to know when a report is worth sending
(gateway/proxy/alerts.py). Pure.
"""

from __future__ import annotations

from collections.abc import Container
from decimal import Decimal

from schemas.billing import THRESHOLDS


def due(spent: Decimal, limit: Decimal | None, announced: Container[int] = ()) -> list[int]:
    if limit is None:
        return []
    return [t for t in THRESHOLDS if spent * 100 >= t * limit and t not in announced]
