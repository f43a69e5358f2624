"""Accrual planning: a batch of usage records -> the invoice events that bill them. Pure.

`usage_item(event, seq)` normalises a `UsageRecorded` (GPU-seconds or tokens)
or an `InferenceRequestRecorded` (prompt and completion tokens) into the
parts it bills; a request with no tokens bills nothing (None).

`Planner(invoices, seen, cards, period_kind)` takes the tenant's invoices (by
period key), `seen(tenant, record_id)` (every record id already on an
invoice of the tenant, accrued or unrated) and the rate cards; `add(item)`
for each record in stream order; `events()` the events per invoice, in order:
InvoiceOpened (if new), InvoiceLineOpened per new line, InvoiceUsageAccrued
(chunks of `CHUNK` records), InvoiceUsageUnrated.

Rules:
- a record id already seen (earlier batch, or earlier in this batch) is a
  duplicate: skipped, billed once;
- the record's period is that of its start time; its invoice is the period's
  if that is a draft (or not opened yet), else the first later period's
  invoice that is: an adjustment line (`adjusts` = the record's period);
- it is priced with the rate card in force at its start time; every part
  must have a price on that card, in the invoice's currency, otherwise the
  whole record is `UnratedUsage` (code and message), visible and unbilled.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from domains.billing import periods
from domains.billing.invoice import InvoiceState, evolve
from domains.billing.pricing import UNITS, price_for
from domains.errors import DomainError
from domains.metering import rate_card_at
from schemas.base import Event
from schemas.billing import (
    AccruedUsage,
    InvoiceLine,
    InvoiceLineOpened,
    InvoiceOpened,
    InvoiceUsageAccrued,
    InvoiceUsageUnrated,
    UnratedUsage,
)
from schemas.ids import derived_id
from schemas.metering import RateCardPublished, UsageRecorded
from schemas.usage import InferenceRequestRecorded

CHUNK = 1000


@dataclass(frozen=True)
class UsageItem:
    record_id: str
    tenant: str
    seq: int
    at: datetime
    parts: tuple[tuple[str, str, Decimal], ...]  # (kind, item, metered quantity)
    key_id: str | None = None


def usage_item(event: Event, seq: int) -> UsageItem | None:
    if isinstance(event, UsageRecorded):
        kind, item = ("gpu", event.gpu_model) if event.source == "gpu" else ("tokens", event.model)
        return UsageItem(event.record_id, event.tenant, seq, event.start, ((kind, item or "", event.quantity),))
    if isinstance(event, InferenceRequestRecorded):
        parts = tuple((kind, event.model, Decimal(n)) for kind, n in
                      (("prompt_tokens", event.prompt_tokens), ("completion_tokens", event.completion_tokens)) if n)
        if not parts:
            return None
        return UsageItem(event.request_id, event.tenant, seq, event.start, parts, event.key_id)
    return None


def line_id(kind: str, item: str, version: int, adjusts: str | None) -> str:
    return derived_id("line", kind, item.encode().hex(), version, adjusts or "current")


class Planner:
    def __init__(self, invoices: Callable[[str], Mapping[str, InvoiceState]], seen: Callable[[str, str], bool],
                 cards: Sequence[RateCardPublished], period_kind: str) -> None:
        self._invoices = invoices
        self._seen = seen
        self.cards = cards
        self.kind = period_kind
        self.states: dict[tuple[str, str], InvoiceState] = {}  # (tenant, period key) -> state after this batch
        self._events: dict[tuple[str, str], list[Event]] = {}
        self._accrued: dict[tuple[str, str], list[AccruedUsage]] = {}
        self._unrated: dict[tuple[str, str], list[UnratedUsage]] = {}
        self._batch_seen: set[tuple[str, str]] = set()

    def state(self, tenant: str, period_key: str) -> InvoiceState:
        key = (tenant, period_key)
        if key not in self.states:
            self.states[key] = self._invoices(tenant).get(period_key, InvoiceState())
        return self.states[key]

    def add(self, item: UsageItem) -> bool:
        """Plan one record; False if it is a duplicate."""
        if (item.tenant, item.record_id) in self._batch_seen or self._seen(item.tenant, item.record_id):
            return False
        self._batch_seen.add((item.tenant, item.record_id))
        own = periods.period_of(item.at, self.kind)
        target = own
        while self.state(item.tenant, target.key).status not in ("none", "draft"):
            target = periods.following(target)
        adjusts = own.key if target.key != own.key else None
        key = (item.tenant, target.key)
        try:
            card = rate_card_at(self.cards, item.at)
            prices = [(kind, name, qty, price_for(card, kind, name)) for kind, name, qty in item.parts]
        except DomainError as exc:
            self._open(key, target, self.cards[-1].currency if self.cards else "USD")
            self._unrated.setdefault(key, []).append(UnratedUsage(
                record_id=item.record_id, at=item.at, usage_seq=item.seq, code=exc.code, message=str(exc)[:500]))
            return True
        self._open(key, target, card.currency)
        currency = self.states[key].opened.currency
        if card.currency != currency:
            self._unrated.setdefault(key, []).append(UnratedUsage(
                record_id=item.record_id, at=item.at, usage_seq=item.seq, code="currency_mismatch",
                message=f"currency: rate card v{card.version} is in {card.currency}, the invoice in {currency}"))
            return True
        for kind, name, qty, price in prices:
            lid = line_id(kind, name, card.version, adjusts)
            if lid not in self.states[key].lines:
                metered, priced = UNITS[kind]
                self._emit(key, InvoiceLineOpened(invoice_id=periods.invoice_id(target.key), line=InvoiceLine(
                    line_id=lid, kind=kind, item=name, unit=metered, priced_unit=priced,
                    rate_card_version=card.version, price=price, currency=card.currency, adjusts=adjusts)))
            self._accrued.setdefault(key, []).append(AccruedUsage(
                record_id=item.record_id, line_id=lid, quantity=qty, at=item.at, usage_seq=item.seq,
                key_id=item.key_id))
        return True

    def _open(self, key: tuple[str, str], period: periods.Period, currency: str) -> None:
        if self.state(*key).status == "none":
            self._emit(key, InvoiceOpened(invoice_id=periods.invoice_id(period.key), tenant=key[0],
                                          period=period.key, period_start=period.start, period_end=period.end,
                                          currency=currency))

    def _emit(self, key: tuple[str, str], event: Event) -> None:
        self._events.setdefault(key, []).append(event)
        self.states[key] = evolve(self.states[key], event)

    def events(self) -> dict[tuple[str, str], list[Event]]:
        """(tenant, period key) -> the events to append to that invoice, in order."""
        for key, usage in self._accrued.items():
            for i in range(0, len(usage), CHUNK):
                self._emit(key, InvoiceUsageAccrued(invoice_id=periods.invoice_id(key[1]), usage=usage[i:i + CHUNK]))
        for key, unrated in self._unrated.items():
            for i in range(0, len(unrated), CHUNK):
                self._emit(key, InvoiceUsageUnrated(invoice_id=periods.invoice_id(key[1]),
                                                    usage=unrated[i:i + CHUNK]))
        self._accrued, self._unrated = {}, {}
        return self._events
