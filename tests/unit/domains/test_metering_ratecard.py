"""Rate cards: consecutive versions, each effective later than the last, selected by time."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from domains.metering import RateCardState, decide, evolve, rate_card_at
from domains.metering.errors import (
    MeteringError,
    NoRateCardInForce,
    RateCardNotLater,
    RateCardVersionConflict,
)
from schemas.metering import PublishRateCard, RateCardPublished
from tests.factories.metering import T0, publish_rate_card, rate_card, t


def fold(events):
    state = RateCardState()
    for event in events:
        state = evolve(state, event)
    return state


def test_publishes_the_first_version():
    then = decide(fold([]), publish_rate_card(1, T0), now=T0)
    assert then == [rate_card(1, T0)]
    assert then[0].gpu_hour["H100"] == Decimal("2.50")


def test_publishes_a_next_version_effective_later():
    given = [rate_card(1, T0)]
    then = decide(fold(given), publish_rate_card(2, t(hours=24), gpu_hour={"H100": "2.25"}), now=T0)
    assert then == [rate_card(2, t(hours=24), gpu_hour={"H100": "2.25"})]


def test_refuses_a_version_not_effective_after_the_previous_one():
    given = [rate_card(1, t(hours=24))]
    for effective in (t(hours=24), t(hours=1)):
        with pytest.raises(RateCardNotLater) as info:
            decide(fold(given), publish_rate_card(2, effective), now=T0)
        assert info.value.field == "effective_from"


def test_refuses_to_skip_a_version():
    with pytest.raises(RateCardVersionConflict, match="expected v2, got v3") as info:
        decide(fold([rate_card(1, T0)]), publish_rate_card(3, t(hours=1)), now=T0)
    assert info.value.field == "version"


def test_republishing_a_published_version_unchanged_decides_nothing():
    given = [rate_card(1, T0), rate_card(2, t(hours=1))]
    assert decide(fold(given), publish_rate_card(1, T0), now=T0) == []


def test_a_published_version_never_changes_its_prices():
    given = [rate_card(1, T0)]
    with pytest.raises(RateCardVersionConflict, match="already published") as info:
        decide(fold(given), publish_rate_card(1, T0, gpu_hour={"H100": "9.99"}), now=T0)
    assert info.value.field == "version"


def test_refuses_a_rate_card_without_prices():
    with pytest.raises(MeteringError) as info:
        decide(fold([]), publish_rate_card(1, T0, gpu_hour={}), now=T0)
    assert info.value.field == "gpu_hour"


def test_reports_every_malformed_price_with_its_path():
    with pytest.raises(ValidationError) as info:
        PublishRateCard.model_validate({
            "version": 0, "effective_from": "2026-11-15T10:00:00", "currency": "usd",
            "gpu_hour": {"H100": "-1", "A100": 2.5}, "tokens_1k": {"llama": "abc"},
        })
    paths = {".".join(str(p) for p in e["loc"]) for e in info.value.errors()}
    assert paths == {"version", "effective_from", "currency", "gpu_hour.H100", "gpu_hour.A100", "tokens_1k.llama"}


# --- selection by time -----------------------------------------------------

CARDS = [rate_card(1, T0), rate_card(2, t(hours=24)), rate_card(3, t(hours=48))]


@pytest.mark.parametrize(
    ("at", "version"),
    [(T0, 1), (t(hours=23, minutes=59), 1), (t(hours=24), 2), (t(hours=47), 2), (t(hours=48), 3), (t(hours=999), 3)],
)
def test_the_card_in_force_is_the_latest_one_already_effective(at, version):
    assert rate_card_at(CARDS, at).version == version


def test_selection_does_not_depend_on_the_order_cards_are_given_in():
    assert rate_card_at(list(reversed(CARDS)), t(hours=30)).version == 2


def test_there_is_no_card_in_force_before_the_first_one():
    with pytest.raises(NoRateCardInForce) as info:
        rate_card_at(CARDS, t(-1))
    assert info.value.field == "at" and info.value.code == "no_rate_card_in_force"


def test_the_state_keeps_every_version_in_order():
    state = fold(CARDS)
    assert [c.version for c in state.cards] == [1, 2, 3] and state.latest == CARDS[-1]
    assert isinstance(state.latest, RateCardPublished)
