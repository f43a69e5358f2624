"""Autoscaling: observed load -> a desired replica count, with hysteresis and cooldowns. Pure.

Inputs: the deployment's AutoscaleSpec, its desired count and bounds, the
per-replica capacity (`max_concurrent_requests`), the load the ready replicas
report (requests running, requests waiting = the queue depth, summed), the
time of the last scale (DeploymentRequested or DeploymentScaled envelope
time) and `now`. Rules:

    demand     = running + waiting
    up_to      = ceil(demand / (capacity * target_utilization))
    down_to    = ceil(demand / (capacity * scale_down_utilization))   (0 utilization: never down)

- up_to > desired and the up cooldown has passed: scale to min(up_to, max).
- down_to < desired and the down cooldown has passed: scale down ONE replica
  (a step at a time: capacity leaves slowly; never below min). Between the two thresholds nothing
  changes: that band is the hysteresis that keeps a load near a boundary from
  flapping.
- No ready replica reporting: hold (no evidence either way; the deployment's
  health covers it). Outside [min, max] (cannot happen through decide):
  clamped back.

`scale_command(state, load, last_scaled_at=, now=)` wraps this for the
autoscaler reactor: a ScaleDeployment with `from_replicas` = the count the
recommendation was made from (decide drops it if that changed meanwhile), or
None when the deployment has no autoscale policy, is stopped, or should hold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from domains.inference.state import DeploymentState
from schemas.inference import AutoscaleSpec, ScaleDeployment


@dataclass(frozen=True, slots=True)
class Load:
    ready: int  # replicas whose load is counted
    running: int  # requests being processed, summed over them
    waiting: int  # requests queued (engine queues + the proxy's), summed over them


@dataclass(frozen=True, slots=True)
class Recommendation:
    replicas: int
    reason: str  # "hold", "scale_up{...}", "scale_down{...}", "cooldown{...}", "clamp{...}"


def recommend(policy: AutoscaleSpec, *, desired: int, min_replicas: int, max_replicas: int, capacity: int,
              load: Load, last_scaled_at: datetime | None, now: datetime) -> Recommendation:
    bounded = min(max(desired, min_replicas), max_replicas)
    if bounded != desired:
        return Recommendation(bounded, f"clamp{{min={min_replicas}, max={max_replicas}}}")
    if load.ready <= 0:
        return Recommendation(desired, "hold")
    demand = max(load.running, 0) + max(load.waiting, 0)
    since = float("inf") if last_scaled_at is None else (now - last_scaled_at).total_seconds()
    up_to = min(math.ceil(demand / (capacity * policy.target_utilization)), max_replicas)
    if up_to > desired:
        if since < policy.scale_up_cooldown_s:
            return Recommendation(desired, f"cooldown{{direction=up, want={up_to}}}")
        return Recommendation(up_to, f"scale_up{{demand={demand}, capacity={capacity}}}")
    if policy.scale_down_utilization <= 0 or desired <= min_replicas:
        return Recommendation(desired, "hold")
    down_to = math.ceil(demand / (capacity * policy.scale_down_utilization))
    if down_to >= desired:
        return Recommendation(desired, "hold")
    if since < policy.scale_down_cooldown_s:
        return Recommendation(desired, f"cooldown{{direction=down, want={desired - 1}}}")
    return Recommendation(desired - 1, f"scale_down{{demand={demand}, capacity={capacity}}}")


def scale_command(state: DeploymentState, load: Load, *, last_scaled_at: datetime | None,
                  now: datetime) -> ScaleDeployment | None:
    spec = state.spec
    if spec is None or spec.autoscale is None or state.stopped:
        return None
    rec = recommend(spec.autoscale, desired=state.desired, min_replicas=spec.min_replicas,
                    max_replicas=spec.max_replicas, capacity=spec.max_concurrent_requests, load=load,
                    last_scaled_at=last_scaled_at, now=now)
    if rec.replicas == state.desired:
        return None
    return ScaleDeployment(deployment_id=state.deployment_id, replicas=rec.replicas, from_replicas=state.desired,
                           reason=f"autoscale: {rec.reason}")
