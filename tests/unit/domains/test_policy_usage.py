"""Tenant usage: GPUs held per (pool, model) and GPU-hours per budget period."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from domains.policy import Admit, Wait, admit, period_key
from tests.factories.policy import T0, quota, spec, usage


def test_released_gpus_free_the_quota_again():
    held = usage().with_allocated("train", "H100", 8).with_allocated("train", "H100", 8)
    assert isinstance(admit(quota(("train", "H100", 16)), held, spec(gpus=8), now=T0), Wait)
    released = held.with_allocated("train", "H100", -8)
    assert admit(quota(("train", "H100", 16)), released, spec(gpus=8), now=T0) == Admit()
    assert dict(released.with_allocated("train", "H100", -8).allocated) == {}


def test_cannot_release_more_gpus_than_held():
    with pytest.raises(ValueError, match=r"\(train, H100\): cannot release 4 GPUs, 2 held"):
        usage({("train", "H100"): 2}).with_allocated("train", "H100", -4)


def test_consumed_gpu_hours_add_up_exactly_within_a_period():
    spent = usage(gpu_hours="0", period="2026-11")
    for _ in range(3):
        spent = spent.with_consumed("2026-11", Decimal("0.1"))
    assert spent.gpu_hours_in("2026-11") == Decimal("0.3")


def test_consumption_in_a_new_period_starts_from_zero():
    spent = usage(gpu_hours="40", period="2026-11").with_consumed("2026-12", Decimal("2"))
    assert (spent.period, spent.gpu_hours) == ("2026-12", Decimal("2"))
    assert spent.gpu_hours_in("2026-11") == 0


def test_usage_cannot_be_changed_in_place():
    held = usage({("train", "H100"): 2})
    with pytest.raises(TypeError):
        held.allocated[("train", "H100")] = 99  # type: ignore[index]


@pytest.mark.parametrize(
    ("now", "period", "key"),
    [
        (datetime(2026, 11, 30, 23, 59, tzinfo=timezone.utc), "monthly", "2026-11"),
        (datetime(2026, 12, 1, 0, 30, tzinfo=timezone(timedelta(hours=2))), "monthly", "2026-11"),
        (datetime(2027, 1, 1, tzinfo=timezone.utc), "weekly", "2026-W53"),
        (datetime(2026, 11, 15, 23, 0, tzinfo=timezone.utc), "daily", "2026-11-15"),
    ],
)
def test_periods_are_calendar_periods_in_utc(now, period, key):
    assert period_key(now, period) == key
