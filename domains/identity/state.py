"""The identity aggregates' states, rebuilt from their own events.

    TenantState    exists, display_name                 (tenant, id = tenant name)
    UserState      exists, role, disabled               (user, id = user_id)
    TokenState     issued, user_id, expires_at, revoked (token, id = token_id)
    PlatformState  bootstrapped                         (platform, id = "identity")

One `evolve(state, event)` serves all four: each event type belongs to exactly
one aggregate. States are immutable values; an event the aggregates do not
know is a TypeError (the wrong stream was folded). A token's hash is not kept:
no decision needs it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from functools import singledispatch
from typing import TypeVar

from schemas import identity as i
from schemas.base import Event


@dataclass(frozen=True)
class TenantState:
    exists: bool = False
    display_name: str = ""


@dataclass(frozen=True)
class UserState:
    exists: bool = False
    role: str = ""
    disabled: bool = False


@dataclass(frozen=True)
class TokenState:
    issued: bool = False
    user_id: str = ""
    expires_at: datetime | None = None
    revoked: bool = False


@dataclass(frozen=True)
class PlatformState:
    bootstrapped: bool = False


S = TypeVar("S")


def evolve(state: S, event: Event) -> S:
    return _apply(event, state)


def fold(initial: S, events: Iterable[Event]) -> S:
    state = initial
    for event in events:
        state = evolve(state, event)
    return state


@singledispatch
def _apply(event: Event, state):
    raise TypeError(f"the identity aggregates do not apply {type(event).__name__}")


@_apply.register
def _(event: i.TenantCreated, state: TenantState) -> TenantState:
    return TenantState(exists=True, display_name=event.display_name)


@_apply.register
def _(event: i.UserCreated, state: UserState) -> UserState:
    return UserState(exists=True, role=event.role)


@_apply.register
def _(event: i.RoleChanged, state: UserState) -> UserState:
    return replace(state, role=event.role)


@_apply.register
def _(event: i.UserDisabled, state: UserState) -> UserState:
    return replace(state, disabled=True)


@_apply.register
def _(event: i.TokenIssued, state: TokenState) -> TokenState:
    return TokenState(issued=True, user_id=event.user_id, expires_at=event.expires_at)


@_apply.register
def _(event: i.TokenRevoked, state: TokenState) -> TokenState:
    return replace(state, revoked=True)


@_apply.register
def _(event: i.PlatformBootstrapped, state: PlatformState) -> PlatformState:
    return PlatformState(bootstrapped=True)
