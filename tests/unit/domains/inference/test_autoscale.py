"""Autoscaling: load in, desired replicas out, with a hysteresis band and cooldowns, within min/max."""

from __future__ import annotations

from datetime import timedelta

from domains.inference import Load, recommend, scale_command
from schemas.inference import AutoscaleSpec
from tests.factories.inference import T0, History, requested, scale, types

POLICY = AutoscaleSpec(target_utilization=0.8, scale_down_utilization=0.4, scale_up_cooldown_s=30,
                       scale_down_cooldown_s=300)
LONG_AGO = T0 - timedelta(hours=1)


def want(desired: int, running: int, waiting: int = 0, *, ready: int | None = None, last=LONG_AGO, now=T0,
         min_replicas: int = 1, max_replicas: int = 8, capacity: int = 10) -> int:
    load = Load(ready=desired if ready is None else ready, running=running, waiting=waiting)
    return recommend(POLICY, desired=desired, min_replicas=min_replicas, max_replicas=max_replicas,
                     capacity=capacity, load=load, last_scaled_at=last, now=now).replicas


def test_a_queue_scales_up_to_what_the_demand_needs_at_the_target_utilization():
    # 2 replicas x 10 slots full, 20 waiting: demand 40 / (10 * 0.8) = 5
    assert want(2, running=20, waiting=20) == 5


def test_scaling_up_stops_at_max_replicas():
    assert want(2, running=20, waiting=500, max_replicas=6) == 6


def test_inside_the_hysteresis_band_nothing_changes():
    # 3 replicas: up only above 24 in flight (3 x 8), down only at or below 8 (2 x 4)
    for demand in (9, 13, 20, 24):
        assert want(3, running=demand) == 3


def test_a_load_oscillating_around_a_boundary_does_not_flap():
    desired, last = 3, LONG_AGO
    for minute, demand in enumerate([25, 23, 25, 23, 25, 23]):
        now = T0 + timedelta(minutes=minute)
        new = want(desired, running=demand, last=last, now=now)
        if new != desired:
            desired, last = new, now
    assert desired == 4  # one step up at the first 25, then 23..25 stays inside the band


def test_scaling_down_goes_one_replica_at_a_time_and_never_below_min():
    assert want(5, running=0) == 4
    assert want(2, running=0, min_replicas=2) == 2


def test_cooldowns_hold_each_direction_after_the_last_scale():
    just = T0 - timedelta(seconds=10)
    assert want(2, running=40, last=just) == 2  # up waits 30 s
    assert want(2, running=40, last=T0 - timedelta(seconds=30)) == 5
    assert want(4, running=0, last=T0 - timedelta(seconds=299)) == 4  # down waits 300 s
    assert want(4, running=0, last=T0 - timedelta(seconds=300)) == 3


def test_without_a_ready_replica_reporting_it_holds():
    assert want(3, running=0, ready=0) == 3


def test_a_count_outside_the_bounds_is_clamped_back():
    assert want(10, running=100, max_replicas=6) == 6


def test_scale_command_carries_the_count_it_was_made_from_so_a_stale_one_is_dropped():
    log = History(requested(replicas=2, max_replicas=6, autoscale=POLICY))
    # capacity 8 per replica: 32 in flight / (8 x 0.8) = 5
    command = scale_command(log.state, Load(ready=2, running=16, waiting=16), last_scaled_at=LONG_AGO, now=T0)
    assert (command.replicas, command.from_replicas) == (5, 2) and command.reason.startswith("autoscale: scale_up")
    log.when(scale(3))  # a person scaled meanwhile
    assert log.when(command) == []
    fresh = scale_command(log.state, Load(ready=3, running=24, waiting=0), last_scaled_at=LONG_AGO, now=T0)
    assert types(log.when(fresh)) == ["DeploymentScaled", "ReplicaScheduled"]


def test_no_scale_command_without_a_policy_or_when_holding():
    manual = History(requested(replicas=2))
    assert scale_command(manual.state, Load(2, 20, 50), last_scaled_at=LONG_AGO, now=T0) is None
    auto = History(requested(replicas=2, autoscale=POLICY))
    assert scale_command(auto.state, Load(2, 10, 0), last_scaled_at=LONG_AGO, now=T0) is None
