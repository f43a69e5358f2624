"""The `invoice` aggregate (id = `inv-<period>`, under its tenant): draft -> finalized -> void.

State is folded from its own events only, so an invoice is reproducible from
the log: lines carry the price they were opened with, accruals the quantities.

- `accrue` (the billing consumer): only a draft accrues; an invoice not yet
  opened is opened by the consumer with `InvoiceOpened` first.
- `finalize(state, totals, *, now)`: draft only, and only once the period has
  ended (`PeriodOpen` otherwise); the event carries the priced lines, the
  credits applied and the totals, frozen.
- `decide(state, VoidInvoice)`: draft or finalized -> void; voiding a void
  invoice is an `InvoiceTransition` error, so is voiding one never opened
  (`InvoiceNotFound`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from functools import singledispatch
from types import MappingProxyType

from domains.billing.errors import InvoiceNotFound, InvoiceTransition, PeriodOpen
from schemas.base import Command, Event
from schemas.billing import (
    InvoiceFinalized,
    InvoiceLine,
    InvoiceLineOpened,
    InvoiceOpened,
    InvoiceUsageAccrued,
    InvoiceUsageUnrated,
    InvoiceVoided,
    UnratedUsage,
    VoidInvoice,
)


@dataclass(frozen=True)
class InvoiceState:
    opened: InvoiceOpened | None = None
    status: str = "none"  # none | draft | finalized | void
    lines: Mapping[str, InvoiceLine] = field(default_factory=lambda: MappingProxyType({}))
    quantities: Mapping[str, Decimal] = field(default_factory=lambda: MappingProxyType({}))
    records: int = 0  # usage records accrued
    unrated: tuple[UnratedUsage, ...] = ()
    finalized: InvoiceFinalized | None = None
    void_reason: str | None = None

    @property
    def period(self) -> str | None:
        return self.opened.period if self.opened else None


def evolve(state: InvoiceState, event: Event) -> InvoiceState:
    return _apply(event, state)


@singledispatch
def _apply(event: Event, state: InvoiceState) -> InvoiceState:
    raise TypeError(f"the invoice aggregate does not apply {type(event).__name__}")


@_apply.register
def _(event: InvoiceOpened, state: InvoiceState) -> InvoiceState:
    return replace(state, opened=event, status="draft")


@_apply.register
def _(event: InvoiceLineOpened, state: InvoiceState) -> InvoiceState:
    return replace(state, lines=MappingProxyType({**state.lines, event.line.line_id: event.line}))


@_apply.register
def _(event: InvoiceUsageAccrued, state: InvoiceState) -> InvoiceState:
    quantities = dict(state.quantities)
    for usage in event.usage:
        quantities[usage.line_id] = quantities.get(usage.line_id, Decimal(0)) + usage.quantity
    return replace(state, quantities=MappingProxyType(quantities),
                   records=state.records + len({u.record_id for u in event.usage}))


@_apply.register
def _(event: InvoiceUsageUnrated, state: InvoiceState) -> InvoiceState:
    return replace(state, unrated=state.unrated + tuple(event.usage))


@_apply.register
def _(event: InvoiceFinalized, state: InvoiceState) -> InvoiceState:
    return replace(state, status="finalized", finalized=event)


@_apply.register
def _(event: InvoiceVoided, state: InvoiceState) -> InvoiceState:
    return replace(state, status="void", void_reason=event.reason)


def fold(events) -> InvoiceState:
    state = InvoiceState()
    for event in events:
        state = evolve(state, event)
    return state


def finalize(state: InvoiceState, totals, *, now: datetime) -> list[Event]:
    """`totals` is `domains.billing.totals.Totals` for this invoice (lines, credits, totals)."""
    if state.opened is None:
        raise InvoiceNotFound("invoice_id: no such invoice", field="invoice_id")
    if state.status != "draft":
        raise InvoiceTransition(f"status: cannot finalize a {state.status} invoice", field="status")
    if now < state.opened.period_end:
        raise PeriodOpen(f"period: {state.opened.period} is open until {state.opened.period_end}", field="period")
    return [InvoiceFinalized(invoice_id=state.opened.invoice_id, lines=totals.lines, subtotal=totals.subtotal,
                             credits=totals.credits, total=totals.total, currency=state.opened.currency,
                             finalized_at=now)]


def decide(state: InvoiceState, command: Command, *, now: datetime) -> list[Event]:
    if not isinstance(command, VoidInvoice):
        raise TypeError(f"the invoice aggregate does not handle {type(command).__name__}")
    if state.opened is None:
        raise InvoiceNotFound(f"invoice_id: no invoice {command.invoice_id!r}", field="invoice_id")
    if state.status not in ("draft", "finalized"):
        raise InvoiceTransition(f"status: invoice {command.invoice_id} is already {state.status}", field="status")
    return [InvoiceVoided(invoice_id=command.invoice_id, reason=command.reason, previous=state.status)]
