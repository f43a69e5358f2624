"""The `billing` aggregate (id = tenant, under the tenant): credits, discounts and the spend budget.

Rules: a credit id is granted once (the same grant again decides nothing: a
redelivered command; different content is a `CreditConflict`); revoking an
unknown credit is `NotFound`, revoking twice decides nothing. `SetBudget`
equal to the budget in force decides nothing. Each `BudgetSet` is a new budget
revision = the aggregate version of its event (the consumer and admission both
read it off the envelope), so thresholds are crossed again under a new budget.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import singledispatch
from types import MappingProxyType

from domains.billing.errors import CreditConflict, WrongAccount
from domains.errors import NotFound
from schemas.base import Command, Event
from schemas.billing import (
    BudgetSet,
    CreditGranted,
    CreditRevoked,
    GrantCredit,
    RevokeCredit,
    SetBudget,
)


@dataclass(frozen=True)
class AccountState:
    tenant: str = ""
    credits: Mapping[str, CreditGranted] = field(default_factory=lambda: MappingProxyType({}))
    revoked: frozenset[str] = frozenset()
    budget: BudgetSet | None = None
    budget_revision: int = 0  # the aggregate version of `budget`'s event


def evolve(state: AccountState, event: Event, version: int | None = None) -> AccountState:
    return _apply(event, state, version)


@singledispatch
def _apply(event: Event, state: AccountState, version: int | None) -> AccountState:
    raise TypeError(f"the billing aggregate does not apply {type(event).__name__}")


@_apply.register
def _(event: CreditGranted, state: AccountState, version: int | None) -> AccountState:
    return replace(state, tenant=event.tenant, credits=MappingProxyType({**state.credits, event.credit_id: event}))


@_apply.register
def _(event: CreditRevoked, state: AccountState, version: int | None) -> AccountState:
    return replace(state, tenant=event.tenant, revoked=state.revoked | {event.credit_id})


@_apply.register
def _(event: BudgetSet, state: AccountState, version: int | None) -> AccountState:
    revision = version if version is not None else state.budget_revision + 1
    return replace(state, tenant=event.tenant, budget=event if event.amount is not None else None,
                   budget_revision=revision)


def evolve_envelope(state: AccountState, env) -> AccountState:
    return evolve(state, env.data, env.version)


def decide(state: AccountState, command: Command, *, now: datetime) -> list[Event]:
    if state.tenant and getattr(command, "tenant", state.tenant) != state.tenant:
        raise WrongAccount(f"tenant: {command.tenant!r} sent to the billing account of {state.tenant!r}",
                           field="tenant")
    return _decide(command, state)


@singledispatch
def _decide(command: Command, state: AccountState) -> list[Event]:
    raise TypeError(f"the billing aggregate does not handle {type(command).__name__}")


@_decide.register
def _(command: GrantCredit, state: AccountState) -> list[Event]:
    granted = CreditGranted(**command.model_dump())
    known = state.credits.get(command.credit_id)
    if known is not None:
        if known == granted:
            return []
        raise CreditConflict(f"credit_id: credit {command.credit_id!r} was granted with other terms",
                             field="credit_id")
    return [granted]


@_decide.register
def _(command: RevokeCredit, state: AccountState) -> list[Event]:
    if command.credit_id not in state.credits:
        raise NotFound(f"credit_id: no credit {command.credit_id!r}", field="credit_id", code="credit_not_found")
    if command.credit_id in state.revoked:
        return []
    return [CreditRevoked(tenant=command.tenant, credit_id=command.credit_id)]


@_decide.register
def _(command: SetBudget, state: AccountState) -> list[Event]:
    event = BudgetSet(**command.model_dump())
    current = state.budget
    if (current is None and event.amount is None) or current == event:
        return []
    return [event]
