"""API-key budget alerts: each 50/80/100% threshold once per budget revision, decided by the apikey aggregate."""

from __future__ import annotations

from decimal import Decimal

import pytest

from domains.errors import NotFound
from domains.identity import apikeys
from domains.identity.keybudget import due
from schemas import identity as i
from tests.unit.domains.identity.test_api_keys import KEY_ID, Key, create


def report(spent: str, revision: int = 1) -> i.ReportApiKeySpend:
    return i.ReportApiKeySpend(key_id=KEY_ID, spent=spent, budget_revision=revision)


def thresholds(events) -> list[int]:
    assert all(isinstance(e, i.ApiKeyBudgetThresholdCrossed) for e in events)
    return [e.threshold for e in events]


def test_each_threshold_is_announced_once_in_ascending_order_with_spend_and_limit():
    key = Key(create(budget="10"))
    assert key.when(report("4.99")) == []
    [half] = key.when(report("5"))  # exactly 50% is reached
    assert (half.threshold, half.spent, half.limit, half.budget_revision) == (50, Decimal(5), Decimal(10), 1)
    assert key.when(report("6")) == []  # 50% again: already announced
    assert thresholds(key.when(report("10"))) == [80, 100]  # one report can cross several
    assert key.when(report("12")) == [] and key.when(report("10")) == []


@pytest.mark.parametrize(("spent", "expected"), [("7.99", [50]), ("8", [50, 80]), ("9.999", [50, 80]),
                                                 ("10", [50, 80, 100]), ("0", [])])
def test_the_boundary_is_exact_decimal_arithmetic(spent, expected):
    assert thresholds(Key(create(budget="10")).when(report(spent))) == expected
    assert due(Decimal(spent), Decimal(10)) == expected


def test_a_budget_change_starts_a_new_revision_and_the_thresholds_over():
    key = Key(create(budget="10"))
    assert thresholds(key.when(report("10"))) == [50, 80, 100]
    key.when(i.ChangeApiKeyBudget(key_id=KEY_ID, budget="40"))
    assert apikeys.fold(key.events).budget_revision == 2
    assert key.when(report("30", revision=1)) == [], "measured against the old budget: stale, nothing"
    [half] = key.when(report("20", revision=2))
    assert (half.threshold, half.limit, half.budget_revision) == (50, Decimal(40), 2)
    key.when(i.ChangeApiKeyBudget(key_id=KEY_ID, budget="40"))  # the same budget: no change, no new revision
    assert apikeys.fold(key.events).budget_revision == 2


def test_no_budget_a_revoked_key_or_a_future_revision_decide_nothing():
    assert Key(create(budget=None)).when(report("1000")) == []
    assert Key(create(budget="10"), i.RevokeApiKey(key_id=KEY_ID)).when(report("10")) == []
    assert Key(create(budget="10")).when(report("10", revision=2)) == []
    unlimited = Key(create(budget="10"), i.ChangeApiKeyBudget(key_id=KEY_ID, budget=None))
    assert unlimited.when(report("10", revision=2)) == []


def test_a_report_for_a_key_never_created_is_not_found():
    with pytest.raises(NotFound) as error:
        Key().when(report("1"))
    assert error.value.field == "key_id"


def test_an_announcement_of_another_revision_does_not_count_for_the_current_one():
    state = apikeys.fold([i.ApiKeyCreated(**create(budget="10").model_dump()),
                          i.ApiKeyBudgetChanged(key_id=KEY_ID, budget="20", previous="10"),
                          i.ApiKeyBudgetThresholdCrossed(key_id=KEY_ID, threshold=50, spent="5", limit="10",
                                                         budget_revision=1)])
    assert state.alerted == frozenset()
    assert thresholds(apikeys.decide(state, report("10", revision=2), now=None)) == [50]


def test_a_budget_mode_change_alone_is_a_budget_change_and_the_mode_is_kept():
    key = Key(create(budget="10"))
    assert apikeys.fold(key.events).budget_mode == "hard"  # the default: refuse past the budget
    [changed] = key.when(i.ChangeApiKeyBudget(key_id=KEY_ID, budget="10", budget_mode="soft"))
    assert (changed.budget, changed.budget_mode, changed.previous) == (Decimal(10), "soft", Decimal(10))
    state = apikeys.fold(key.events)
    assert (state.budget_mode, state.budget_revision) == ("soft", 2)
    assert key.when(i.ChangeApiKeyBudget(key_id=KEY_ID, budget="10", budget_mode="soft")) == []
    assert apikeys.fold(Key(create(budget="5", budget_mode="soft")).events).budget_mode == "soft"
