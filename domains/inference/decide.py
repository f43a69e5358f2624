"""Decisions of the `deployment` aggregate: `decide(state, command, *, now) -> list[Event]`.

Rules (each a test in tests/unit/domains/inference):
- CreateDeployment: a taken id is `conflict`; the spec must pass `spec.check`
  (`invalid` at `spec.<field>`). Emits DeploymentRequested and one
  ReplicaScheduled per initial replica (slots 0..n-1, generations 1..n).
- ScaleDeployment: unknown `not_found`, stopped `illegal_transition`, a count
  outside [min_replicas, max_replicas] `invalid` at `replicas`. With
  `from_replicas` set and different from the desired count it decides nothing
  (a stale autoscaler view). Up: new slots at the lowest free indices. Down:
  removes the least useful slots first (failed, then not yet ready, then lost,
  then ready; among equals the highest index): ReplicaStopping for a slot with
  a job, ReplicaRemoved for a failed one. Every failed slot that stays is
  re-armed: scheduled again with its restart count reset. Nothing to change:
  no events.
- StopDeployment: unknown `not_found`; stopping again decides nothing.
  DeploymentStopped, then every slot stops (or is removed if failed).
- RecordReplicaState (job events, from the inference reactor), for the slot's
  current generation only (anything else is stale, no events):
  placed/starting/running move a pending..running slot forward only (ready,
  lost and failed slots are not moved by job progress); waiting records why a
  pending slot waits (when the reason changes); requeued puts it back to
  pending; an end (succeeded, failed, cancelled, preempted, rejected) is
  ReplicaFailed, followed by a ReplicaScheduled with a new generation while
  the slot's restarts < spec.max_restarts. For a stopping slot only its end
  counts: ReplicaRemoved.
- ReportReplicaReady / ReportReplicaLost (agent, discovery): for the slot's
  current generation; ready from any status but failed, lost from any but
  lost and failed; repeating the current status decides nothing. A stopped
  deployment ignores them (agents race a stop).
- After every decision the status is derived again (state.derive_status);
  when it changed, DeploymentStatusChanged closes the decision.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from functools import singledispatch

from domains.inference import spec as rules
from domains.inference.errors import (
    DeploymentExists,
    DeploymentNotFound,
    DeploymentStopped,
    InvalidDeployment,
)
from domains.inference.state import RANK, DeploymentState, Replica, derive_status, fold
from schemas import inference as inf
from schemas.base import Command, Event

ENDED = frozenset({"succeeded", "failed", "cancelled", "preempted", "rejected"})
FORWARD = frozenset({"pending", "placed", "starting", "running"})
# scale-down order: the least useful slot goes first
_REMOVAL_ORDER = {"failed": 0, "pending": 1, "placed": 1, "starting": 1, "running": 1, "lost": 2, "ready": 3}


def decide(state: DeploymentState, command: Command, *, now: datetime) -> list[Event]:
    if not isinstance(command, inf.CreateDeployment) and not state.exists:
        raise DeploymentNotFound(command.deployment_id)  # type: ignore[attr-defined]
    events = _decide(command, state)
    return _with_status(state, events) if events else []


@singledispatch
def _decide(command: Command, state: DeploymentState) -> list[Event]:
    raise TypeError(f"the deployment aggregate does not handle {type(command).__name__}")


@_decide.register
def _(command: inf.CreateDeployment, state: DeploymentState) -> list[Event]:
    if state.exists:
        raise DeploymentExists(command.deployment_id)
    rules.check(command.spec)
    count = rules.initial_replicas(command.spec)
    created = DeploymentState(deployment_id=command.deployment_id, spec=command.spec)
    return [inf.DeploymentRequested(deployment_id=command.deployment_id, spec=command.spec, replicas=count),
            *_schedule(created, range(count))]


@_decide.register
def _(command: inf.ScaleDeployment, state: DeploymentState) -> list[Event]:
    if state.stopped:
        raise DeploymentStopped(command.deployment_id, "ScaleDeployment")
    if command.from_replicas is not None and command.from_replicas != state.desired:
        return []
    spec = state.spec
    if not spec.min_replicas <= command.replicas <= spec.max_replicas:
        raise InvalidDeployment(f"must be within min_replicas..max_replicas ({spec.min_replicas}.."
                                f"{spec.max_replicas})", field="replicas")
    events: list[Event] = []
    if command.replicas != state.desired:
        events.append(inf.DeploymentScaled(deployment_id=command.deployment_id, replicas=command.replicas,
                                           previous=state.desired, reason=command.reason))
    slots = list(state.replicas)
    if command.replicas < len(slots):
        ranked = sorted(slots, key=lambda r: (_REMOVAL_ORDER[r.status], -r.index))
        removed = ranked[: len(slots) - command.replicas]
        events += [_remove(state, r, command.reason or "scaled down") for r in removed]
        slots = [r for r in slots if r not in removed]
    taken = {r.index for r in slots}
    free = (i for i in range(len(taken) + command.replicas + 1) if i not in taken)
    new = [next(free) for _ in range(command.replicas - len(slots))]
    rearmed = [r.index for r in slots if r.status == "failed"]
    events += _schedule(state, sorted(new + rearmed))
    return events


@_decide.register
def _(command: inf.StopDeployment, state: DeploymentState) -> list[Event]:
    if state.stopped:
        return []
    reason = command.reason or "deployment stopped"
    return [inf.DeploymentStopped(deployment_id=command.deployment_id, reason=command.reason),
            *(_remove(state, r, reason) for r in state.replicas)]


@_decide.register
def _(command: inf.RecordReplicaState, state: DeploymentState) -> list[Event]:
    ids = {"deployment_id": command.deployment_id, "replica": command.replica, "generation": command.generation}
    draining = state.draining(command.generation)
    if draining is not None:
        return [inf.ReplicaRemoved(**ids)] if command.state in ENDED else []
    slot = state.active(command.generation)
    if slot is None or slot.status == "failed":
        return []
    if command.state in ENDED:
        return _failed(state, slot, _outcome(command))
    if command.state == "requeued":
        return [inf.ReplicaStateChanged(**ids, status="pending", reason=command.reason or "requeued")]
    if command.state == "waiting":
        if slot.status != "pending" or slot.reason == command.reason:
            return []
        return [inf.ReplicaStateChanged(**ids, status="pending", reason=command.reason)]
    if slot.status not in FORWARD or RANK[command.state] <= RANK[slot.status]:
        return []
    return [inf.ReplicaStateChanged(**ids, status=command.state)]


@_decide.register
def _(command: inf.ReportReplicaReady, state: DeploymentState) -> list[Event]:
    slot = None if state.stopped else state.active(command.generation)
    if slot is None or slot.status in ("ready", "failed"):
        return []
    return [inf.ReplicaReady(deployment_id=command.deployment_id, replica=slot.index, generation=slot.generation,
                             endpoint=command.endpoint)]


@_decide.register
def _(command: inf.ReportReplicaLost, state: DeploymentState) -> list[Event]:
    slot = None if state.stopped else state.active(command.generation)
    if slot is None or slot.status in ("lost", "failed"):
        return []
    return [inf.ReplicaLost(deployment_id=command.deployment_id, replica=slot.index, generation=slot.generation,
                            reason=command.reason or "agent lost")]


def _schedule(state: DeploymentState, indexes: Iterable[int]) -> list[Event]:
    out: list[Event] = []
    generation = state.generations
    for index in indexes:
        generation += 1
        out.append(_scheduled(state, index, generation, restarts=0))
    return out


def _scheduled(state: DeploymentState, index: int, generation: int, *, restarts: int) -> inf.ReplicaScheduled:
    dep = state.deployment_id
    return inf.ReplicaScheduled(deployment_id=dep, replica=index, generation=generation, restarts=restarts,
                                job_id=rules.replica_job_id(dep, index, generation),
                                job=rules.replica_job(dep, state.spec, index, generation))


def _remove(state: DeploymentState, slot: Replica, reason: str) -> Event:
    ids = {"deployment_id": state.deployment_id, "replica": slot.index, "generation": slot.generation}
    if slot.status == "failed":  # its job already ended: nothing to stop
        return inf.ReplicaRemoved(**ids)
    return inf.ReplicaStopping(**ids, job_id=slot.job_id, reason=reason)


def _failed(state: DeploymentState, slot: Replica, reason: str) -> list[Event]:
    events: list[Event] = [inf.ReplicaFailed(deployment_id=state.deployment_id, replica=slot.index,
                                             generation=slot.generation, reason=reason)]
    if slot.restarts < state.spec.max_restarts:
        events.append(_scheduled(state, slot.index, state.generations + 1, restarts=slot.restarts + 1))
    return events


def _outcome(command: inf.RecordReplicaState) -> str:
    parts = [f"job {command.state}"]
    if command.exit_code is not None:
        parts.append(f"exit code {command.exit_code}")
    if command.reason:
        parts.append(command.reason)
    text = parts[0] + (f" ({', '.join(parts[1:])})" if parts[1:] else "")
    return text[:1000]


def _with_status(state: DeploymentState, events: list[Event]) -> list[Event]:
    after = fold(events, state)
    status = derive_status(after)
    if status == after.status:
        return events
    return [*events, inf.DeploymentStatusChanged(deployment_id=after.deployment_id, status=status,
                                                 previous=after.status, ready=after.count(("ready",)),
                                                 desired=after.desired)]

