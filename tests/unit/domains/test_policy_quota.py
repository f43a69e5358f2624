"""The `quota` aggregate: SetQuota -> QuotaSet, and what a valid limit set is."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from domains.policy import QuotaState, decide, fold
from domains.policy.errors import WrongQuotaTenant
from schemas.policy import QuotaLimits, QuotaSet
from tests.factories.policy import T0, TENANT, quota_set, set_quota


def test_setting_a_quota_records_the_limits():
    then = decide(fold(TENANT, []), set_quota(("*", "H100", 16), max_gpus_per_job=8), now=T0)
    assert then == [quota_set(("*", "H100", 16), max_gpus_per_job=8)]


def test_a_new_quota_replaces_the_whole_previous_one():
    given = [quota_set(("*", "H100", 16), max_gpus_per_job=8), quota_set(("*", "*", 4))]
    state = fold(TENANT, given)
    assert state.limits.max_gpus_per_job is None
    assert [(lim.pool, lim.gpu_model, lim.max_gpus) for lim in state.limits.concurrent_gpus] == [("*", "*", 4)]


def test_setting_the_same_quota_again_decides_nothing():
    given = [quota_set(("train", "H100", 16))]
    assert decide(fold(TENANT, given), set_quota(("train", "H100", 16)), now=T0) == []


def test_a_tenant_without_a_quota_is_unlimited():
    assert fold(TENANT, []) == QuotaState(tenant=TENANT, limits=None)


def test_refuses_a_quota_for_another_tenant():
    with pytest.raises(WrongQuotaTenant) as info:
        decide(fold(TENANT, []), set_quota(("*", "*", 4), tenant="globex"), now=T0)
    assert info.value.field == "tenant" and "globex" in info.value.message


def test_rejects_duplicate_limit_keys_naming_each_duplicate():
    with pytest.raises(ValidationError) as info:
        QuotaLimits.model_validate({"concurrent_gpus": [
            {"pool": "*", "gpu_model": "H100", "max_gpus": 8},
            {"pool": "a", "gpu_model": "H100", "max_gpus": 8},
            {"gpu_model": "H100", "max_gpus": 4},
        ]})
    assert "concurrent_gpus[2]" in str(info.value) and "concurrent_gpus[0]" in str(info.value)


def test_reports_every_invalid_limit_with_its_path():
    with pytest.raises(ValidationError) as info:
        QuotaLimits.model_validate({
            "concurrent_gpus": [{"pool": "a*b", "max_gpus": -1}],
            "budget": {"gpu_hours": 1.5},
            "max_gang_size": 0,
        })
    paths = {".".join(str(part) for part in e["loc"][:3]) for e in info.value.errors()}
    assert paths == {"concurrent_gpus.0.pool", "concurrent_gpus.0.max_gpus", "budget.gpu_hours", "max_gang_size"}


def test_budget_hours_travel_as_exact_decimal_strings():
    event = quota_set(budget={"gpu_hours": "1000.25", "period": "monthly"})
    wire = event.model_dump(mode="json")
    assert wire["limits"]["budget"] == {"gpu_hours": "1000.25", "period": "monthly"}
    assert QuotaSet.model_validate(wire) == event
