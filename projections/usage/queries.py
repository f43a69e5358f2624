"""Read side of the USAGE projection: a tenant's invoice preview, per-minute inference, digests.

`preview(client, db, cards, tenant, period)` is the draft invoice of a period
computed from the daily rollup: the summed quantity of each line (kind, item,
rate card version, currency, unit) over the period's days, priced as the
invoice prices it (`domains.billing.pricing`: the line's `Price` on its own
card version, graduated/package on the line's total, rounded once to the
cent). `preview_raw` is the same over the raw rows (FINAL): the reference the
rollup must equal. Usage with no price (version 0) comes back as unrated lines
without an amount. Blocking (clickhouse-connect): call from a worker thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from domains.billing.periods import Period
from domains.billing.pricing import UNITS, line_amount, price_for
from projections.usage.ratecards import RateCards


@dataclass(frozen=True)
class PreviewLine:
    kind: str
    item: str
    rate_card_version: int  # 0: unrated
    currency: str
    unit: str
    priced_unit: str
    scheme: str
    records: int
    quantity: Decimal
    amount: Decimal | None  # cents; None for unrated usage


@dataclass(frozen=True)
class Preview:
    tenant: str
    period: Period
    lines: list[PreviewLine]

    @property
    def subtotal(self) -> dict[str, Decimal]:
        out: dict[str, Decimal] = {}
        for line in self.lines:
            if line.amount is not None:
                out[line.currency] = out.get(line.currency, Decimal("0.00")) + line.amount
        return out


_GROUP = "kind, item, rate_card_version, currency, unit"


def preview(client, db: str, cards: RateCards, tenant: str, period: Period) -> Preview:
    sql = (f"SELECT {_GROUP}, sum(records), sum(quantity) FROM {db}.rated_usage_daily "
           "WHERE tenant = {t:String} AND day >= toDate({s:DateTime64(3, 'UTC')}) "
           f"AND day < toDate({{e:DateTime64(3, 'UTC')}}) GROUP BY {_GROUP} ORDER BY {_GROUP}")
    return _priced(client, sql, cards, tenant, period)


def preview_raw(client, db: str, cards: RateCards, tenant: str, period: Period) -> Preview:
    sql = (f"SELECT {_GROUP}, count(), sum(quantity) FROM {db}.rated_usage FINAL "
           "WHERE tenant = {t:String} AND time >= {s:DateTime64(3, 'UTC')} AND time < {e:DateTime64(3, 'UTC')} "
           f"GROUP BY {_GROUP} ORDER BY {_GROUP}")
    return _priced(client, sql, cards, tenant, period)


def _priced(client, sql: str, cards: RateCards, tenant: str, period: Period) -> Preview:
    rows = client.query(sql, parameters={"t": tenant, "s": period.start, "e": period.end}).result_rows
    lines = []
    for kind, item, version, currency, unit, records, quantity in rows:
        quantity = Decimal(quantity).normalize() if quantity else Decimal(0)
        card = cards.version(version) if version else None
        priced_unit = UNITS.get(kind, (unit, unit))[1]
        if card is None:
            lines.append(PreviewLine(kind, item, 0, currency, unit, priced_unit, "", int(records), quantity, None))
            continue
        price = price_for(card, kind, item)
        lines.append(PreviewLine(kind, item, version, currency, unit, priced_unit, price.scheme, int(records),
                                 quantity, line_amount(price, quantity, unit)))
    return Preview(tenant, period, lines)


@dataclass(frozen=True)
class Minute:
    minute: datetime
    model: str
    requests: int
    errors: int
    prompt_tokens: int
    completion_tokens: int
    p50_ms: float
    p95_ms: float


def inference_minutes(client, db: str, tenant: str, *, model: str | None = None) -> list[Minute]:
    """Per-minute inference for a tenant (optionally one model), from the rollup, ordered."""
    where = "tenant = {t:String}" + (" AND model = {m:String}" if model else "")
    rows = client.query(
        f"SELECT minute, model, sum(requests), sum(errors), sum(prompt_tokens), sum(completion_tokens), "
        f"quantilesTimingMerge(0.5, 0.95)(latency) FROM {db}.inference_requests_minute WHERE {where} "
        "GROUP BY minute, model ORDER BY minute, model", parameters={"t": tenant, "m": model}).result_rows
    return [Minute(m, mo, int(r), int(e), int(p), int(c), float(q[0]), float(q[1])) for m, mo, r, e, p, c, q in rows]


def table_digest(client, db: str) -> str:
    """Count and order-independent hash of each raw table's deduplicated rows (replay == live)."""
    parts = []
    for table in ("inference_requests", "rated_usage"):
        count, digest = client.query(
            f"SELECT count(), groupBitXor(cityHash64(toString(tuple(*)))) FROM {db}.{table} FINAL").result_rows[0]
        parts.append(f"{table}:{count}:{digest}")
    return "|".join(parts)
