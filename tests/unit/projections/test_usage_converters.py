"""USAGE records -> inference_requests and rated_usage rows, without a database (projections/usage)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from projections.usage.convert import Seen, batch_rows, rows_for
from projections.usage.ratecards import RateCards
from projections.usage.rating import Rater
from schemas.metering import Price, PriceTier
from tests.factories.usage import T0, at, card, envelope, gpu, request

V2_FROM = datetime(2026, 11, 20, tzinfo=UTC)


def rater(*cards) -> Rater:
    return Rater(RateCards(cards or (card(),)))


def rated(rows):
    """(kind, item, quantity, unit_price, amount, version, problem) of rated_usage rows."""
    return [(r[4], r[5], r[10], r[13], r[14], r[16], r[17]) for r in rows]


@pytest.mark.parametrize("record, expected", [
    # one H100 GPU-hour at 2.50/h
    (gpu("g1", seconds="3600"), [("gpu", "H100", Decimal(3600), Decimal("2.50"), Decimal("2.5"), 1, "")]),
    # one GPU-second: 2.50 / 3600 = 0.000694444444(4...) rounded half-even at 12 decimals
    (gpu("g2", seconds="1"), [("gpu", "H100", Decimal(1), Decimal("2.50"), Decimal("0.000694444444"), 1, "")]),
    # inference: prompt and completion are separate lines, priced per 1,000 tokens
    (request("r1", prompt=1000, completion=1), [
        ("prompt_tokens", "llama", 1000, Decimal("0.002"), Decimal("0.002"), 1, ""),
        ("completion_tokens", "llama", 1, Decimal("0.002"), Decimal("0.000002"), 1, "")]),
    # a request that used no tokens bills nothing
    (request("r2", prompt=0, completion=0, outcome="error"), []),
    # a model without a price is kept, unrated, with the reason
    (gpu("g3", model="B200"), [("gpu", "B200", Decimal(3600), Decimal(0), Decimal(0), 0, "unknown_gpu_model")]),
])
def test_each_record_is_rated_with_the_card_in_force_at_its_start(record, expected):
    rows = rows_for(envelope(record), 7, Seen(), rater())["rated_usage"]
    assert rated(rows) == expected
    assert all(r[0] == 7 and r[9] == "2026-11" for r in rows)


def test_a_rate_card_change_prices_usage_by_the_version_in_force_at_its_start():
    r = rater(card(1), card(2, V2_FROM, gpu_hour={"H100": "3.00"}))
    before = rows_for(envelope(gpu("a", start=at(0))), 1, Seen(), r)["rated_usage"]
    after = rows_for(envelope(gpu("b", start=V2_FROM)), 2, Seen(), r)["rated_usage"]
    assert [(x[13], x[16]) for x in before + after] == [(Decimal("2.50"), 1), (Decimal("3.00"), 2)]


def test_usage_before_any_card_is_unrated_not_free():
    r = rater(card(1, V2_FROM))
    (row,) = rows_for(envelope(gpu("a", start=T0)), 1, Seen(), r)["rated_usage"]
    assert (row[16], row[17]) == (0, "no_rate_card_in_force")


def test_graduated_lines_carry_no_per_record_amount_they_are_priced_on_their_total():
    tiers = Price(scheme="graduated", tiers=[PriceTier(up_to=Decimal(10), unit_price=Decimal(2)),
                                             PriceTier(unit_price=Decimal(1))])
    (row,) = rows_for(envelope(gpu("a")), 1, Seen(), rater(card(gpu_prices={"H100": tiers})))["rated_usage"]
    assert (row[12], row[13], row[14], row[16]) == ("graduated", Decimal(0), Decimal(0), 1)


def test_the_inference_row_holds_what_operators_read():
    (row,) = rows_for(envelope(request("r1", latency=87.5)), 3, Seen(), rater())["inference_requests"]
    assert row[:6] == (3, "r1", T0, "acme", "k1", "llama")
    assert (row[10], row[11], row[15]) == (100, 50, 87.5)


def test_a_record_id_already_stored_adds_no_rows_even_twice_in_one_batch():
    seen = Seen()
    todo = [(envelope(request("r1")), 1), (envelope(gpu("g1")), 2), (envelope(request("r1")), 3),
            (envelope(gpu("g1")), 4)]
    tables = batch_rows(todo, seen, rater())
    assert [r[0] for r in tables["inference_requests"]] == [1]
    assert [r[0] for r in tables["rated_usage"]] == [1, 1, 2]
    assert batch_rows([(envelope(gpu("g1")), 9)], seen, rater()) == {"inference_requests": [], "rated_usage": []}


def test_the_same_request_id_of_two_tenants_is_two_requests():
    tables = batch_rows([(envelope(request("r1")), 1), (envelope(request("r1", tenant="globex")), 2)], Seen(),
                        rater())
    assert [r[3] for r in tables["inference_requests"]] == ["acme", "globex"]


@pytest.mark.parametrize("env, problem", [
    (envelope(gpu("g1"), tenant="globex"), "data.tenant"),
    (envelope(gpu("g1", seconds="0.0000000001")), "quantity"),
])
def test_a_record_the_tables_cannot_hold_exactly_is_refused_naming_the_field(env, problem):
    with pytest.raises(ValueError, match=problem):
        rows_for(env, 1, Seen(), rater())


def test_a_batch_drafts_its_dedupe_state_and_only_a_commit_makes_it_stick():
    seen = Seen()
    batch_rows([(envelope(request("r1")), 1)], seen, rater())
    draft = seen.draft()
    tables = batch_rows([(envelope(request("r1")), 2), (envelope(request("r2")), 3)], draft, rater())
    assert [r[0] for r in tables["inference_requests"]] == [3]  # r1 read through to the committed state
    assert not seen.has_request("acme/r2")  # a batch that fails now leaves nothing behind
    assert draft.commit() is seen and seen.has_request("acme/r2") and seen.has_record("acme/r2")
