"""Rating: exact amounts, one rounding at presentation (ROUND_HALF_EVEN to cents)."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from domains.metering import rate, rate_card_at, to_cents, total
from domains.metering.errors import MeteringError, UnknownGpuModel, UnknownTokenModel
from tests.factories.metering import T0, gpu_usage, rate_card, t, token_usage

CARD = rate_card(1, T0, gpu_hour={"H100": "2.50", "A100": "1.20"}, tokens_1k={"llama-3-8b": "0.0004"})


def test_one_gpu_second_of_h100_costs_a_3600th_of_the_hourly_price():
    rated = rate(gpu_usage("1"), CARD)
    assert rated.exact == Fraction(1, 1440)  # 2.50 / 3600
    assert str(rated.amount).startswith("0.000694444444")
    assert (rated.currency, rated.rate_card_version, rated.item) == ("USD", 1, "H100")
    assert rated.unit_price == Decimal("2.50")


def test_a_gpu_hour_costs_exactly_the_hourly_price_per_gpu():
    assert rate(gpu_usage("3600", gpus=8), CARD).amount == Decimal("20.00")


def test_many_small_intervals_cost_exactly_what_their_total_costs():
    pieces = [rate(gpu_usage("1", record_id=f"r{i}", start=t(i)), CARD) for i in range(3600)]
    whole = rate(gpu_usage("3600"), CARD)
    assert total(pieces) == whole.exact == Fraction(5, 2)
    assert to_cents(total(pieces)) == to_cents(whole.exact) == Decimal("2.50")


def test_rounding_only_at_the_end_differs_from_rounding_each_interval():
    # 10 intervals of 7 GPU-seconds at 2.50/h: each 0.00486..., rounds to 0.00
    pieces = [rate(gpu_usage("7", record_id=f"r{i}"), CARD) for i in range(10)]
    assert sum(to_cents(p.exact) for p in pieces) == Decimal("0.00")
    assert to_cents(total(pieces)) == Decimal("0.05")


def test_presentation_rounds_half_to_even():
    assert to_cents(Fraction(1, 200)) == Decimal("0.00")  # 0.005
    assert to_cents(Fraction(3, 200)) == Decimal("0.02")  # 0.015
    assert to_cents(Decimal("2.345")) == Decimal("2.34")
    assert to_cents(Decimal("2.355")) == Decimal("2.36")


def test_fractional_gpu_seconds_are_rated_exactly():
    rated = rate(gpu_usage("0.000001", gpu_model="A100"), CARD)
    assert rated.exact == Fraction("0.000001") * Fraction("1.20") / 3600


def test_tokens_are_priced_per_thousand():
    rated = rate(token_usage(1500), CARD)
    assert rated.amount == Decimal("0.0006") and rated.item == "llama-3-8b"


def test_unknown_gpu_model_is_refused_naming_the_model():
    with pytest.raises(UnknownGpuModel) as info:
        rate(gpu_usage("60", gpu_model="B200"), CARD)
    assert info.value.field == "gpu_model" and "'B200'" in info.value.message and "v1" in info.value.message


def test_unknown_token_model_is_refused_naming_the_model():
    with pytest.raises(UnknownTokenModel, match="'mixtral'") as info:
        rate(token_usage(10, model="mixtral"), CARD)
    assert info.value.field == "model"


def test_usage_is_priced_by_the_card_in_force_when_it_started():
    cards = [CARD, rate_card(2, t(hours=1), gpu_hour={"H100": "3.60"})]
    before = gpu_usage("3600", start=t(0))
    after = gpu_usage("3600", start=t(hours=1), record_id="r2")
    rated = [rate(u, rate_card_at(cards, u.start)) for u in (before, after)]
    assert [(r.rate_card_version, r.amount) for r in rated] == [(1, Decimal("2.5")), (2, Decimal("3.6"))]


def test_amounts_in_different_currencies_are_not_added():
    eur = rate_card(1, T0, currency="EUR", gpu_hour={"H100": "2.00"})
    with pytest.raises(MeteringError) as info:
        total([rate(gpu_usage("1"), CARD), rate(gpu_usage("1"), eur)])
    assert info.value.field == "currency"


def test_a_gpu_usage_counted_in_tokens_is_refused():
    usage = gpu_usage("1").model_copy(update={"unit": "token"})
    with pytest.raises(MeteringError) as info:
        rate(usage, CARD)
    assert info.value.field == "unit"

