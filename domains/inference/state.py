"""The `deployment` aggregate's state, how its events change it, and its derived status.

Guarantees:
- `DeploymentState` is an immutable value; `evolve` (singledispatch on the
  event type) returns a new one and never raises for a deployment event, so
  replay always succeeds. A report for a generation the state does not hold
  changes nothing.
- `replicas` are the active slots (sorted by index); `stopping` the slots
  removed by a scale-down or stop whose job has not ended yet.
- `derive_status(state)` is the one definition of the lifecycle (with
  `min_replicas` >= 1, "ready" = the agent reported ready and not lost since):

    stopped    StopDeployment was decided (its replicas drain; terminal)
    serving    ready replicas >= min_replicas
    degraded   fewer ready than min_replicas after the deployment has served, or
               after a replica failed, was lost or went back (requeued)
    placed     at least min_replicas replicas have their job on a node
               (placed, starting, running or ready), none failed yet, never served
    requested  otherwise (replica jobs waiting for admission or GPUs)

  `troubled` is what separates degraded from placed/requested: it is set by
  the first failure, loss or step back, and by serving; it never clears (a
  deployment that served and dropped below min is degraded, not "placed").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import singledispatch

from schemas import inference as inf
from schemas.base import Event
from schemas.inference import DeploymentSpec, DeploymentStatus, ReplicaStatus

RANK: dict[str, int] = {"pending": 0, "placed": 1, "starting": 2, "running": 3, "ready": 4}
ON_NODE = frozenset({"placed", "starting", "running", "ready"})


@dataclass(frozen=True, slots=True)
class Replica:
    index: int
    generation: int
    job_id: str
    status: ReplicaStatus = "pending"
    reason: str = ""
    restarts: int = 0
    endpoint: str = ""


@dataclass(frozen=True, slots=True)
class DeploymentState:
    deployment_id: str | None = None
    spec: DeploymentSpec | None = None
    desired: int = 0
    replicas: tuple[Replica, ...] = ()
    stopping: tuple[Replica, ...] = ()
    generations: int = 0  # replica jobs scheduled so far: the next generation is generations + 1
    status: DeploymentStatus = "requested"
    stopped: bool = False
    troubled: bool = False

    @property
    def exists(self) -> bool:
        return self.spec is not None

    def active(self, generation: int) -> Replica | None:
        return next((r for r in self.replicas if r.generation == generation), None)

    def draining(self, generation: int) -> Replica | None:
        return next((r for r in self.stopping if r.generation == generation), None)

    def count(self, statuses: Iterable[str]) -> int:
        wanted = frozenset(statuses)
        return sum(r.status in wanted for r in self.replicas)


def derive_status(state: DeploymentState) -> DeploymentStatus:
    if state.stopped:
        return "stopped"
    need = state.spec.min_replicas if state.spec is not None else 1
    if state.count(("ready",)) >= need:
        return "serving"
    if state.troubled:
        return "degraded"
    return "placed" if state.count(ON_NODE) >= need else "requested"


def evolve(state: DeploymentState, event: Event) -> DeploymentState:
    return _apply(event, state)


def fold(events: Iterable[Event], state: DeploymentState | None = None) -> DeploymentState:
    state = state or DeploymentState()
    for event in events:
        state = evolve(state, event)
    return state


@singledispatch
def _apply(event: Event, state: DeploymentState) -> DeploymentState:
    raise TypeError(f"the deployment aggregate does not apply {type(event).__name__}")


@_apply.register
def _(event: inf.DeploymentRequested, state: DeploymentState) -> DeploymentState:
    return DeploymentState(deployment_id=event.deployment_id, spec=event.spec, desired=event.replicas)


@_apply.register
def _(event: inf.DeploymentScaled, state: DeploymentState) -> DeploymentState:
    return replace(state, desired=event.replicas)


@_apply.register
def _(event: inf.DeploymentStopped, state: DeploymentState) -> DeploymentState:
    return replace(state, stopped=True, desired=0)


@_apply.register
def _(event: inf.DeploymentStatusChanged, state: DeploymentState) -> DeploymentState:
    return replace(state, status=event.status, troubled=state.troubled or event.status == "serving")


@_apply.register
def _(event: inf.ReplicaScheduled, state: DeploymentState) -> DeploymentState:
    slot = Replica(index=event.replica, generation=event.generation, job_id=event.job_id, restarts=event.restarts)
    others = tuple(r for r in state.replicas if r.index != event.replica)
    return replace(state, replicas=tuple(sorted((*others, slot), key=lambda r: r.index)),
                   generations=max(state.generations, event.generation))


@_apply.register
def _(event: inf.ReplicaStateChanged, state: DeploymentState) -> DeploymentState:
    slot = state.active(event.generation)
    if slot is None:
        return state
    back = RANK.get(event.status, 0) < RANK.get(slot.status, 0)
    return _put(replace(state, troubled=state.troubled or back), replace(slot, status=event.status,
                                                                         reason=event.reason))


@_apply.register
def _(event: inf.ReplicaReady, state: DeploymentState) -> DeploymentState:
    slot = state.active(event.generation)
    return state if slot is None else _put(state, replace(slot, status="ready", reason="", endpoint=event.endpoint))


@_apply.register
def _(event: inf.ReplicaLost, state: DeploymentState) -> DeploymentState:
    slot = state.active(event.generation)
    if slot is None:
        return state
    return _put(replace(state, troubled=True), replace(slot, status="lost", reason=event.reason, endpoint=""))


@_apply.register
def _(event: inf.ReplicaFailed, state: DeploymentState) -> DeploymentState:
    slot = state.active(event.generation)
    if slot is None:
        return state
    return _put(replace(state, troubled=True), replace(slot, status="failed", reason=event.reason, endpoint=""))


@_apply.register
def _(event: inf.ReplicaStopping, state: DeploymentState) -> DeploymentState:
    slot = state.active(event.generation)
    if slot is None:
        return state
    return replace(state, replicas=tuple(r for r in state.replicas if r is not slot),
                   stopping=(*state.stopping, replace(slot, reason=event.reason, endpoint="")))


@_apply.register
def _(event: inf.ReplicaRemoved, state: DeploymentState) -> DeploymentState:
    return replace(state, replicas=tuple(r for r in state.replicas if r.generation != event.generation),
                   stopping=tuple(r for r in state.stopping if r.generation != event.generation))


def _put(state: DeploymentState, slot: Replica) -> DeploymentState:
    return replace(state, replicas=tuple(slot if r.index == slot.index else r for r in state.replicas))
