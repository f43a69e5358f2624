"""The `apikey` aggregate (id = key_id, under its tenant): state, evolve and decide. Pure.

Rules (each a test in tests/unit/domains/identity/test_api_keys.py):
- CreateApiKey of a taken id is `conflict`; `expires_at`, when given, must be
  after `now` (`invalid` at `expires_at`). A redelivered command never gets
  here (the handler's causation check).
- RevokeApiKey / ChangeApiKeyLimits / ChangeApiKeyBudget of a key never
  created: `not_found` at `key_id`.
- Revoking twice decides nothing (idempotent, like DELETE). Changing a
  revoked key's limits or budget is `illegal_transition`: a revoked key stays
  dead. Changing to the current values decides nothing.
- Limits replace both `rpm` and `tpm` (None = unlimited); a budget of None
  is unlimited, its mode `hard` (the proxies refuse past it) or `soft`
  (alerts only). Spend against the budget is counted by the proxies.
- Budget alerts: the budget's revision is 1 at creation and + 1 with each
  ApiKeyBudgetChanged. ReportApiKeySpend(spent, budget_revision) decides one
  ApiKeyBudgetThresholdCrossed per 50/80/100% threshold reached
  (keybudget.due) and not yet announced for the current revision, ascending.
  A report for another revision (stale: measured against a budget no longer
  in force), for a key without a budget or for a revoked key decides
  nothing: reports are re-sent by any number of proxies, never an error.

The hash is not kept in the state (no decision needs it); the read model
(projections/identity.py) keeps it to authenticate.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from functools import singledispatch

from domains.errors import IllegalTransition
from domains.identity.errors import AlreadyExists, IdentityError, UnknownIdentity
from domains.identity.keybudget import due
from schemas import identity as i
from schemas.base import Command, Event


@dataclass(frozen=True, slots=True)
class ApiKeyState:
    created: bool = False
    revoked: bool = False
    expires_at: datetime | None = None
    rpm: int | None = None
    tpm: int | None = None
    budget: Decimal | None = None
    budget_mode: str = "hard"
    budget_revision: int = 1
    alerted: frozenset[int] = frozenset()  # thresholds announced for the current revision


class ApiKeyRevoked(IllegalTransition):
    """A revoked key cannot change."""


def evolve(state: ApiKeyState, event: Event) -> ApiKeyState:
    return _apply(event, state)


def fold(events: Iterable[Event], state: ApiKeyState | None = None) -> ApiKeyState:
    state = state or ApiKeyState()
    for event in events:
        state = evolve(state, event)
    return state


def decide(state: ApiKeyState, command: Command, *, now: datetime) -> list[Event]:
    if not isinstance(command, i.CreateApiKey) and not state.created:
        raise UnknownIdentity(f"no API key {command.key_id!r}", field="key_id")  # type: ignore[attr-defined]
    return _decide(command, state, now)


@singledispatch
def _apply(event: Event, state: ApiKeyState) -> ApiKeyState:
    raise TypeError(f"the apikey aggregate does not apply {type(event).__name__}")


@_apply.register
def _(event: i.ApiKeyCreated, state: ApiKeyState) -> ApiKeyState:
    return ApiKeyState(created=True, expires_at=event.expires_at, rpm=event.rpm, tpm=event.tpm, budget=event.budget,
                       budget_mode=event.budget_mode)


@_apply.register
def _(event: i.ApiKeyRevoked, state: ApiKeyState) -> ApiKeyState:
    return replace(state, revoked=True)


@_apply.register
def _(event: i.ApiKeyLimitsChanged, state: ApiKeyState) -> ApiKeyState:
    return replace(state, rpm=event.rpm, tpm=event.tpm)


@_apply.register
def _(event: i.ApiKeyBudgetChanged, state: ApiKeyState) -> ApiKeyState:
    return replace(state, budget=event.budget, budget_mode=event.budget_mode,
                   budget_revision=state.budget_revision + 1, alerted=frozenset())


@_apply.register
def _(event: i.ApiKeyBudgetThresholdCrossed, state: ApiKeyState) -> ApiKeyState:
    if event.budget_revision != state.budget_revision:
        return state
    return replace(state, alerted=state.alerted | {event.threshold})


@singledispatch
def _decide(command: Command, state: ApiKeyState, now: datetime) -> list[Event]:
    raise TypeError(f"the apikey aggregate does not handle {type(command).__name__}")


@_decide.register
def _(command: i.CreateApiKey, state: ApiKeyState, now: datetime) -> list[Event]:
    if state.created:
        raise AlreadyExists(f"API key {command.key_id!r} already exists", field="key_id")
    if command.expires_at is not None and command.expires_at <= now:
        raise IdentityError(f"must be in the future (now is {now.isoformat()})", field="expires_at")
    return [i.ApiKeyCreated(**command.model_dump())]


@_decide.register
def _(command: i.RevokeApiKey, state: ApiKeyState, now: datetime) -> list[Event]:
    return [] if state.revoked else [i.ApiKeyRevoked(key_id=command.key_id)]


@_decide.register
def _(command: i.ChangeApiKeyLimits, state: ApiKeyState, now: datetime) -> list[Event]:
    _check_live(command.key_id, state)
    if (command.rpm, command.tpm) == (state.rpm, state.tpm):
        return []
    return [i.ApiKeyLimitsChanged(key_id=command.key_id, rpm=command.rpm, tpm=command.tpm)]


@_decide.register
def _(command: i.ChangeApiKeyBudget, state: ApiKeyState, now: datetime) -> list[Event]:
    _check_live(command.key_id, state)
    if (command.budget, command.budget_mode) == (state.budget, state.budget_mode):
        return []
    return [i.ApiKeyBudgetChanged(key_id=command.key_id, budget=command.budget, previous=state.budget,
                                  budget_mode=command.budget_mode)]


@_decide.register
def _(command: i.ReportApiKeySpend, state: ApiKeyState, now: datetime) -> list[Event]:
    if state.revoked or command.budget_revision != state.budget_revision:
        return []
    return [i.ApiKeyBudgetThresholdCrossed(key_id=command.key_id, threshold=t, spent=command.spent,
                                           limit=state.budget, budget_revision=state.budget_revision)
            for t in due(command.spent, state.budget, state.alerted)]


def _check_live(key_id: str, state: ApiKeyState) -> None:
    if state.revoked:
        raise ApiKeyRevoked(f"API key {key_id!r} is revoked", field="key_id")
