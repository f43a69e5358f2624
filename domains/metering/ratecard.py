"""The `ratecard` aggregate (id `default`, tenant `_platform`): versioned price lists.

Rules: versions are consecutive from 1; a new version's `effective_from` is
strictly later than the previous version's; a card carries at least one
price. Republishing an already published version with identical content
decides nothing (redelivery); with different content it is a conflict:
published prices never change, a correction is a new version.

`rate_card_at(cards, t)` is the version in force at `t`: the one with the
latest `effective_from <= t` (a card is in force from its first instant).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from functools import singledispatch

from domains.metering.errors import (
    MeteringError,
    NoRateCardInForce,
    RateCardNotLater,
    RateCardVersionConflict,
)
from schemas.base import Command, Event
from schemas.metering import PublishRateCard, RateCardPublished


@dataclass(frozen=True)
class RateCardState:
    cards: tuple[RateCardPublished, ...] = ()

    @property
    def latest(self) -> RateCardPublished | None:
        return self.cards[-1] if self.cards else None


def evolve(state: RateCardState, event: Event) -> RateCardState:
    return _apply(event, state)


@singledispatch
def _apply(event: Event, state: RateCardState) -> RateCardState:
    raise TypeError(f"the ratecard aggregate does not apply {type(event).__name__}")


@_apply.register
def _(event: RateCardPublished, state: RateCardState) -> RateCardState:
    return replace(state, cards=(*state.cards, event))


def decide(state: RateCardState, command: Command, *, now: datetime) -> list[Event]:
    if not isinstance(command, PublishRateCard):
        raise TypeError(f"the ratecard aggregate does not handle {type(command).__name__}")
    card = RateCardPublished(**command.model_dump())
    if card.version <= len(state.cards):
        if state.cards[card.version - 1] == card:
            return []
        raise RateCardVersionConflict(
            f"version: rate card v{card.version} is already published with other content; publish a new version",
            field="version",
        )
    if card.version != len(state.cards) + 1:
        raise RateCardVersionConflict(
            f"version: expected v{len(state.cards) + 1}, got v{card.version}", field="version"
        )
    if not (card.gpu_hour or card.tokens_1k or card.gpu_prices or card.prompt_prices or card.completion_prices):
        raise MeteringError("gpu_hour: a rate card needs at least one price", field="gpu_hour")
    latest = state.latest
    if latest is not None and card.effective_from <= latest.effective_from:
        raise RateCardNotLater(
            f"effective_from: {card.effective_from} is not later than v{latest.version}'s {latest.effective_from}",
            field="effective_from",
        )
    return [card]


def rate_card_at(cards: Iterable[RateCardPublished], t: datetime) -> RateCardPublished:
    in_force = [c for c in cards if c.effective_from <= t]
    if not in_force:
        raise NoRateCardInForce(f"at: no rate card is in force at {t}", field="at")
    return max(in_force, key=lambda c: c.effective_from)
