"""GPU usage intervals from job lifecycles: billed from placement, cut at hour boundaries."""

from __future__ import annotations

from datetime import timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domains.metering import intervals_for, open_intervals_until
from domains.metering.errors import InconsistentJobHistory, MeteringError
from schemas.ids import derived_id
from tests.factories.metering import (
    HOUR,
    TENANT,
    cancelled,
    failed,
    placed,
    preempted,
    queued,
    requeued,
    running,
    submitted,
    succeeded,
    t,
)


def closed(history, now, interval_s=HOUR):
    return intervals_for(history, tenant=TENANT, now=now, interval_s=interval_s)


def spans(intervals):
    return [(i.start, i.end, i.seconds) for i in intervals]


def test_bills_a_short_job_from_placement_to_success():
    history = [submitted(t(0)), placed(t(minutes=5)), running(t(minutes=7)), succeeded(t(minutes=35))]
    [interval] = closed(history, now=t(hours=5))
    assert (interval.start, interval.end, interval.seconds) == (t(minutes=5), t(minutes=35), Decimal(1800))
    assert (interval.gpus, interval.gpu_model, interval.gpu_seconds) == (8, "H100", Decimal(14400))
    assert (interval.tenant, interval.job_id, interval.attempt, interval.closed) == (TENANT, "j1", 1, True)


def test_splits_a_long_job_at_every_hour_boundary():
    history = [submitted(t(0)), placed(t(minutes=30)), succeeded(t(hours=2, minutes=15))]
    assert spans(closed(history, now=t(hours=3))) == [
        (t(minutes=30), t(hours=1), Decimal(1800)),
        (t(hours=1), t(hours=2), Decimal(3600)),
        (t(hours=2), t(hours=2, minutes=15), Decimal(900)),
    ]


def test_a_running_job_bills_each_hour_once_it_has_passed():
    history = [submitted(t(0)), placed(t(minutes=30)), running(t(minutes=31))]
    assert spans(closed(history, now=t(hours=1, minutes=59))) == [(t(minutes=30), t(hours=1), Decimal(1800))]
    assert spans(closed(history, now=t(hours=2))) == [
        (t(minutes=30), t(hours=1), Decimal(1800)),
        (t(hours=1), t(hours=2), Decimal(3600)),
    ]


def test_a_running_job_shows_its_current_piece_as_open_until_now():
    history = [submitted(t(0)), placed(t(minutes=30)), running(t(minutes=31))]
    [current] = open_intervals_until(history, tenant=TENANT, now=t(hours=1, minutes=20), interval_s=HOUR)
    assert (current.start, current.end, current.seconds, current.closed) == (
        t(hours=1), t(hours=1, minutes=20), Decimal(1200), False
    )
    [later] = closed(history + [succeeded(t(hours=1, minutes=40))], now=t(hours=2))[1:]
    assert later.record_id == current.record_id and later.seconds == Decimal(2400)


def test_nothing_is_open_for_a_finished_job_or_right_at_a_boundary():
    finished = [submitted(t(0)), placed(t(0)), succeeded(t(minutes=10))]
    running_job = [submitted(t(0)), placed(t(minutes=30))]
    assert open_intervals_until(finished, tenant=TENANT, now=t(hours=1), interval_s=HOUR) == []
    assert open_intervals_until(running_job, tenant=TENANT, now=t(hours=1), interval_s=HOUR) == []


def test_a_job_waiting_in_the_queue_bills_nothing():
    history = [submitted(t(0)), queued(t(1))]
    assert closed(history, now=t(hours=10)) == []
    assert open_intervals_until(history, tenant=TENANT, now=t(hours=10), interval_s=HOUR) == []


def test_requeue_closes_the_interval_and_the_next_placement_bills_as_a_new_attempt():
    history = [submitted(t(0)), placed(t(minutes=10)), running(t(minutes=11)), requeued(t(minutes=20)),
               queued(t(minutes=20)), placed(t(minutes=50)), succeeded(t(hours=1, minutes=5))]
    intervals = closed(history, now=t(hours=2))
    assert [(i.attempt, i.start, i.end) for i in intervals] == [
        (1, t(minutes=10), t(minutes=20)),
        (2, t(minutes=50), t(hours=1)),
        (2, t(hours=1), t(hours=1, minutes=5)),
    ]


@pytest.mark.parametrize("terminal", [succeeded, failed, cancelled, preempted])
def test_every_terminal_event_closes_the_interval(terminal):
    history = [submitted(t(0)), placed(t(minutes=10)), terminal(t(minutes=25))]
    assert spans(closed(history, now=t(hours=9))) == [(t(minutes=10), t(minutes=25), Decimal(900))]
    assert open_intervals_until(history, tenant=TENANT, now=t(hours=9), interval_s=HOUR) == []


def test_a_job_cancelled_before_placement_bills_nothing():
    assert closed([submitted(t(0)), cancelled(t(minutes=3))], now=t(hours=1)) == []


def test_bills_the_gpus_held_by_every_gang_member():
    history = [submitted(t(0), gpus=4), placed(t(0), gpus=4, members=3), succeeded(t(10))]
    [interval] = closed(history, now=t(hours=1))
    assert (interval.gpus, interval.gpu_seconds) == (12, Decimal(120))


def test_falls_back_to_the_spec_for_gpu_count_and_model_when_the_placement_omits_them():
    history = [submitted(t(0), gpus=2, gpu_model="A100"), placed(t(0), gpu_model=None, indices=False),
               succeeded(t(10))]
    [interval] = closed(history, now=t(hours=1))
    assert (interval.gpus, interval.gpu_model) == (2, "A100")


def test_cpu_only_jobs_produce_no_gpu_usage():
    history = [submitted(t(0), gpus=0), placed(t(0), gpus=0, gpu_model=None), succeeded(t(hours=3))]
    assert closed(history, now=t(hours=4)) == []


def test_seconds_are_exact_to_the_microsecond():
    history = [submitted(t(0)), placed(t(0.000001)), succeeded(t(1.5))]
    [interval] = closed(history, now=t(hours=1))
    assert interval.seconds == Decimal("1.499999")


def test_boundaries_follow_the_configured_interval():
    history = [submitted(t(0)), placed(t(minutes=10)), succeeded(t(minutes=40))]
    assert [i.end for i in closed(history, now=t(hours=1), interval_s=900)] == [
        t(minutes=15), t(minutes=30), t(minutes=40)
    ]


def test_intervals_are_reported_in_utc_whatever_zone_the_events_carry():
    plus_two = timezone(timedelta(hours=2))
    history = [submitted(t(0)), placed(t(0).astimezone(plus_two)), succeeded(t(60).astimezone(plus_two))]
    [interval] = closed(history, now=t(hours=1))
    assert interval.start.tzinfo == timezone.utc and interval.start == t(0)


# --- deterministic ids -----------------------------------------------------


def test_record_ids_derive_from_job_attempt_and_interval_start():
    history = [submitted(t(0)), placed(t(minutes=10)), succeeded(t(hours=1, minutes=5))]
    ids = [i.record_id for i in closed(history, now=t(hours=2))]
    assert ids == [
        derived_id("usage", "j1", 1, t(minutes=10).isoformat()),
        derived_id("usage", "j1", 1, t(hours=1).isoformat()),
    ]


def test_re_deriving_later_repeats_every_closed_interval_identically():
    history = [submitted(t(0)), placed(t(minutes=30)), running(t(minutes=31))]
    early = closed(history, now=t(hours=2, minutes=10))
    late = closed(history + [succeeded(t(hours=3, minutes=45))], now=t(hours=7))
    assert late[: len(early)] == early
    assert len({i.record_id for i in late}) == len(late) == 4


@settings(max_examples=200, deadline=None)
@given(
    place_s=st.integers(0, 10 * HOUR),
    length_s=st.integers(1, 30 * HOUR),
    observations=st.lists(st.integers(0, 45 * HOUR), max_size=6),
    interval_s=st.sampled_from([60, 900, HOUR, 4 * HOUR]),
)
def test_recording_every_derivation_by_id_never_double_counts(place_s, length_s, observations, interval_s):
    start, end = t(place_s), t(place_s + length_s)
    recorded = {}
    for seen_s in sorted(observations) + [46 * HOUR]:
        now = t(seen_s)
        history = [submitted(t(0)), placed(start)] + ([succeeded(end)] if end <= now else [])
        for interval in closed(history, now=now, interval_s=interval_s):
            assert recorded.setdefault(interval.record_id, interval) == interval
    assert sum(i.gpu_seconds for i in recorded.values()) == Decimal(length_s * 8)


# --- bad histories ---------------------------------------------------------


def test_refuses_a_history_that_places_a_job_twice_without_releasing_it():
    with pytest.raises(InconsistentJobHistory) as info:
        closed([submitted(t(0)), placed(t(1)), placed(t(2))], now=t(3))
    assert info.value.field == "history"


def test_refuses_gpus_of_no_known_model():
    history = [submitted(t(0), gpus=0), placed(t(0), gpus=2, gpu_model=None), succeeded(t(5))]
    with pytest.raises(InconsistentJobHistory) as info:
        closed(history, now=t(10))
    assert info.value.field == "gpu_model"


def test_refuses_a_non_positive_interval_length():
    with pytest.raises(MeteringError) as info:
        closed([submitted(t(0))], now=t(1), interval_s=0)
    assert info.value.field == "interval_s"
