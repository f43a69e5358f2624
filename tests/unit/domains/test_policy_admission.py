"""Admission: size limits reject, concurrent quotas make jobs wait, exhausted budgets reject."""

from __future__ import annotations

from datetime import datetime, timezone

from domains.policy import Admit, QuotaState, Reject, Wait, admit, quota_block
from tests.factories.policy import T0, TENANT, quota, spec, usage


def reason(verdict) -> str:
    return str(verdict.reason)


# --- no quota --------------------------------------------------------------


def test_admits_anything_when_the_tenant_has_no_quota():
    assert admit(QuotaState(tenant=TENANT), usage({("train", "H100"): 512}), spec(gpus=64), now=T0) == Admit()


def test_admits_when_every_limit_holds():
    given = quota(("train", "H100", 16), max_gpus_per_job=8, budget={"gpu_hours": "100"})
    assert admit(given, usage({("train", "H100"): 8}, gpu_hours="99.9"), spec(gpus=8), now=T0) == Admit()


# --- size limits -----------------------------------------------------------


def test_rejects_a_job_with_more_gpus_than_the_per_job_maximum():
    verdict = admit(quota(max_gpus_per_job=8), usage(), spec(gpus=16), now=T0)
    assert isinstance(verdict, Reject)
    assert reason(verdict) == "job_too_large{field=gpus, max=8, want=16}"


def test_counts_every_gang_member_towards_the_per_job_gpu_maximum():
    verdict = admit(quota(max_gpus_per_job=8), usage(), spec(gpus=4, gang=4), now=T0)
    assert reason(verdict) == "job_too_large{field=gpus, max=8, want=16}"


def test_rejects_a_gang_larger_than_the_maximum():
    verdict = admit(quota(max_gang_size=2), usage(), spec(gpus=1, gang=3), now=T0)
    assert reason(verdict) == "job_too_large{field=gang, max=2, want=3}"


def test_rejects_a_job_asking_for_too_much_cpu_or_memory():
    cpu = admit(quota(max_cpu_per_job=16), usage(), spec(cpu=32), now=T0)
    memory = admit(quota(max_memory_gb_per_job=64), usage(), spec(memory_gb=128), now=T0)
    assert reason(cpu) == "job_too_large{field=cpu, max=16.0, want=32.0}"
    assert reason(memory) == "job_too_large{field=memory_gb, max=64.0, want=128.0}"


def test_admits_a_job_exactly_at_the_size_limits():
    given = quota(max_gpus_per_job=8, max_gang_size=2, max_cpu_per_job=16, max_memory_gb_per_job=64)
    assert admit(given, usage(), spec(gpus=4, gang=2, cpu=8, memory_gb=32), now=T0) == Admit()


def test_size_limits_reject_even_when_the_concurrent_quota_is_full():
    given = quota(("*", "*", 8), max_gpus_per_job=8)
    verdict = admit(given, usage({("train", "H100"): 8}), spec(gpus=16), now=T0)
    assert isinstance(verdict, Reject) and verdict.reason.code == "job_too_large"


# --- concurrent GPU quotas: wait, not reject -------------------------------


def test_waits_when_the_tenant_already_holds_its_concurrent_gpus():
    verdict = admit(quota(("train", "H100", 16)), usage({("train", "H100"): 12}), spec(gpus=8), now=T0)
    assert isinstance(verdict, Wait)
    assert reason(verdict) == "quota_exceeded{pool=train, model=H100, limit=16, in_use=12, want=8}"


def test_admits_when_the_job_fits_exactly_into_the_remaining_quota():
    verdict = admit(quota(("train", "H100", 16)), usage({("train", "H100"): 8}), spec(gpus=8), now=T0)
    assert verdict == Admit()


def test_rejects_a_job_that_could_never_fit_under_the_concurrent_quota():
    verdict = admit(quota(("train", "H100", 4)), usage(), spec(gpus=8), now=T0)
    assert isinstance(verdict, Reject)
    assert reason(verdict) == "job_exceeds_quota{pool=train, model=H100, limit=4, want=8}"


def test_usage_of_other_pools_and_models_does_not_count_against_a_specific_limit():
    held = usage({("infer", "H100"): 16, ("train", "A100"): 16})
    assert admit(quota(("train", "H100", 8)), held, spec(gpus=8), now=T0) == Admit()


# --- wildcards -------------------------------------------------------------


def test_a_model_wildcard_caps_that_pool_across_all_models():
    held = usage({("train", "A100"): 6, ("infer", "H100"): 100})
    verdict = admit(quota(("train", "*", 8)), held, spec(gpus=4, gpu_model="H100"), now=T0)
    assert reason(verdict) == "quota_exceeded{pool=train, model=*, limit=8, in_use=6, want=4}"


def test_a_pool_wildcard_caps_a_model_across_all_pools():
    held = usage({("train", "H100"): 4, ("infer", "H100"): 4, ("train", "A100"): 50})
    verdict = admit(quota(("*", "H100", 10)), held, spec(gpus=4, pool="research"), now=T0)
    assert reason(verdict) == "quota_exceeded{pool=*, model=H100, limit=10, in_use=8, want=4}"


def test_every_matching_limit_must_hold():
    given = quota(("train", "H100", 100), ("*", "*", 10))
    verdict = admit(given, usage({("infer", "A100"): 8}), spec(gpus=4), now=T0)
    assert reason(verdict) == "quota_exceeded{pool=*, model=*, limit=10, in_use=8, want=4}"


def test_a_job_without_a_pool_is_held_only_to_pool_wildcards_until_placed():
    given = quota(("train", "H100", 0), ("*", "H100", 16))
    job = spec(gpus=8, pool=None)
    assert admit(given, usage(), job, now=T0) == Admit()
    # the allocator re-checks each candidate pool with concrete values
    blocked = quota_block(given.limits.concurrent_gpus, {}, pool="train", gpu_model="H100", gpus=8)
    assert str(blocked) == "quota_exceeded{pool=train, model=H100, limit=0, in_use=0, want=8}"
    assert quota_block(given.limits.concurrent_gpus, {}, pool="infer", gpu_model="H100", gpus=8) is None


def test_cpu_only_jobs_are_not_held_to_gpu_quotas():
    assert admit(quota(("*", "*", 0)), usage({("train", "H100"): 4}), spec(gpus=0), now=T0) == Admit()


# --- GPU-hour budget -------------------------------------------------------


def test_rejects_gpu_work_once_the_budget_is_used_up_exactly():
    given = quota(budget={"gpu_hours": "1000"})
    verdict = admit(given, usage(gpu_hours="1000.000"), spec(gpus=1), now=T0)
    assert isinstance(verdict, Reject)
    assert reason(verdict) == "budget_exhausted{period=2026-11, limit=1000, used=1000.000}"


def test_admits_while_the_smallest_fraction_of_the_budget_is_left():
    given = quota(budget={"gpu_hours": "1000"})
    assert admit(given, usage(gpu_hours="999.999999999999"), spec(gpus=1), now=T0) == Admit()


def test_the_budget_renews_when_the_next_period_begins():
    given = quota(budget={"gpu_hours": "10"})
    spent = usage(gpu_hours="10", period="2026-11")
    last_instant = datetime(2026, 11, 30, 23, 59, 59, 999999, tzinfo=timezone.utc)
    first_instant = datetime(2026, 12, 1, tzinfo=timezone.utc)
    assert isinstance(admit(given, spent, spec(), now=last_instant), Reject)
    assert admit(given, spent, spec(), now=first_instant) == Admit()


def test_daily_and_weekly_budgets_use_their_own_periods():
    daily = admit(quota(budget={"gpu_hours": "5", "period": "daily"}),
                  usage(gpu_hours="5", period="2026-11-15"), spec(), now=T0)
    weekly = admit(quota(budget={"gpu_hours": "5", "period": "weekly"}),
                   usage(gpu_hours="5", period="2026-W46"), spec(), now=T0)
    assert reason(daily) == "budget_exhausted{period=2026-11-15, limit=5, used=5}"
    assert reason(weekly) == "budget_exhausted{period=2026-W46, limit=5, used=5}"


def test_an_exhausted_budget_does_not_stop_cpu_only_work():
    given = quota(budget={"gpu_hours": "1"})
    assert admit(given, usage(gpu_hours="2"), spec(gpus=0), now=T0) == Admit()
