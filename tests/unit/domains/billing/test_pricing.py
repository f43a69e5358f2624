"""Pricing schemes in exact decimals: tier boundaries, zero usage, partial units, package rounding."""

from decimal import Decimal
from fractions import Fraction

import pytest
from pydantic import ValidationError

from domains.billing.pricing import amount, cents, line_amount
from schemas.metering import Price

GRADUATED = Price(scheme="graduated", tiers=[
    {"up_to": "10", "unit_price": "2.00"}, {"up_to": "100", "unit_price": "1.50"}, {"unit_price": "1.00"}])


@pytest.mark.parametrize(("units", "expected"), [
    ("0", "0"), ("10", "20.00"), ("10.5", "20.75"), ("100", "155.00"), ("100.000001", "155.000001"),
    ("250", "305.00"),
])
def test_graduated_prices_each_tiers_units_at_its_own_price(units, expected):
    assert amount(GRADUATED, Fraction(units)) == Fraction(expected)


def test_a_tier_boundary_unit_belongs_to_the_lower_tier():
    assert amount(GRADUATED, Fraction(10)) - amount(GRADUATED, Fraction(9)) == 2
    assert amount(GRADUATED, Fraction(11)) - amount(GRADUATED, Fraction(10)) == Fraction("1.5")


@pytest.mark.parametrize(("rounding", "units", "expected"), [
    ("up", "0", "0"), ("up", "0.001", "5"), ("up", "1000", "5"), ("up", "1000.5", "10"),
    ("down", "999.99", "0"), ("down", "2000", "10"),
])
def test_package_charges_started_or_complete_packages(rounding, units, expected):
    price = Price(scheme="package", package_size="1000", package_price="5", package_rounding=rounding)
    assert amount(price, Fraction(units)) == Fraction(expected)


def test_per_unit_gpu_seconds_round_once_half_even_at_the_line_total():
    price = Price(unit_price="2.50")
    # 1 GPU-second at 2.50/h = 0.000694...: a thousand of them rounded once, not a thousand times
    assert line_amount(price, Decimal(1000), "gpu_second") == Decimal("0.69")
    assert line_amount(price, Decimal(0), "gpu_second") == Decimal("0.00")
    assert cents(Fraction(5, 1000)) == Decimal("0.00") and cents(Fraction(15, 1000)) == Decimal("0.02")


def test_partial_thousand_tokens_are_priced_exactly():
    assert line_amount(Price(unit_price="0.20"), Decimal(1500), "token") == Decimal("0.30")
    assert line_amount(Price(unit_price="0.01"), Decimal(1250), "token") == Decimal("0.01")  # 0.0125 -> half-even


@pytest.mark.parametrize(("spec", "field"), [
    ({"scheme": "per_unit"}, "unit_price"),
    ({"scheme": "graduated", "tiers": []}, "tiers"),
    ({"scheme": "graduated", "tiers": [{"up_to": "5", "unit_price": "1"}]}, "tiers[0].up_to"),
    ({"scheme": "graduated", "tiers": [{"up_to": "5", "unit_price": "1"}, {"up_to": "5", "unit_price": "1"},
                                       {"unit_price": "1"}]}, "tiers[1].up_to"),
    ({"scheme": "package", "package_size": "0", "package_price": "1"}, "package_size"),
    ({"scheme": "package", "package_size": "10"}, "package_price"),
    ({"unit_price": 0.1}, "not a float"),
])
def test_bad_prices_are_rejected_naming_the_field(spec, field):
    with pytest.raises(ValidationError, match=field.replace("[", r"\[").replace("]", r"\]")):
        Price(**spec)
