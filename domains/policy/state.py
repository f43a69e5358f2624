"""The `quota` aggregate's state: one tenant's current limits, rebuilt from `QuotaSet` events.

Guarantees: the state is an immutable value; `evolve` never mutates its
input, and a tenant that never had a `QuotaSet` has `limits is None`
(unlimited). An event type the aggregate does not know is a TypeError: it
would mean the wrong stream was folded.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import singledispatch

from schemas.base import Event
from schemas.policy import QuotaLimits, QuotaSet


@dataclass(frozen=True)
class QuotaState:
    tenant: str
    limits: QuotaLimits | None = None


def evolve(state: QuotaState, event: Event) -> QuotaState:
    return _apply(event, state)


@singledispatch
def _apply(event: Event, state: QuotaState) -> QuotaState:
    raise TypeError(f"the quota aggregate does not apply {type(event).__name__}")


@_apply.register
def _(event: QuotaSet, state: QuotaState) -> QuotaState:
    return replace(state, limits=event.limits)


def fold(tenant: str, events: Iterable[Event]) -> QuotaState:
    state = QuotaState(tenant=tenant)
    for event in events:
        state = evolve(state, event)
    return state
