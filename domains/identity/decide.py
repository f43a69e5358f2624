"""Decisions of the identity aggregates: `decide(state, command, *, now) -> list[Event]`.

Rules (each a test in tests/unit/domains/identity):
- Creating a tenant, user or token whose id exists is a Conflict (`conflict`);
  a redelivered command never gets here (the handler's causation check).
- ChangeRole / DisableUser / RevokeToken of something never created: `not_found`.
- Disabling is final: disabling again decides nothing (the goal state holds);
  changing a disabled user's role is `illegal_transition`. Changing to the
  current role decides nothing.
- Revoking twice decides nothing (idempotent, like DELETE): the token stays revoked.
- Tokens must expire: `expires_at` after `now` and at most MAX_TOKEN_LIFETIME
  ahead (`invalid` at `expires_at`). A revoked or expired token id is still taken.
- BootstrapPlatform succeeds once per log; a second one is `already_bootstrapped`.
- Roles are validated here too (a command built without validation cannot
  smuggle in an unknown role).

Not decidable here, because a decision sees one aggregate and not the
envelope's tenant: that the user of IssueToken exists and is enabled, and that
platform-admin is granted only in `_platform`. The gateway checks both
(`permissions.may_grant`, the read model), and the read model refuses tokens
of unknown or disabled users and platform admins outside `_platform`, so
neither gap can yield a working credential.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import singledispatch

from domains.identity.errors import (
    AlreadyBootstrapped,
    AlreadyExists,
    IdentityError,
    UnknownIdentity,
    UserDisabled,
)
from domains.identity.state import PlatformState, TenantState, TokenState, UserState
from schemas import identity as i
from schemas.base import Command, Event

MAX_TOKEN_LIFETIME = timedelta(days=365)


def decide(state, command: Command, *, now: datetime) -> list[Event]:
    return _decide(command, state, now)


@singledispatch
def _decide(command: Command, state, now: datetime) -> list[Event]:
    raise TypeError(f"the identity aggregates do not handle {type(command).__name__}")


@_decide.register
def _(command: i.CreateTenant, state: TenantState, now: datetime) -> list[Event]:
    if state.exists:
        raise AlreadyExists(f"tenant {command.tenant!r} already exists", field="tenant")
    return [i.TenantCreated(tenant=command.tenant, display_name=command.display_name)]


@_decide.register
def _(command: i.CreateUser, state: UserState, now: datetime) -> list[Event]:
    _check_role(command.role)
    if state.exists:
        raise AlreadyExists(f"user {command.user_id!r} already exists", field="user_id")
    return [i.UserCreated(user_id=command.user_id, name=command.name, role=command.role)]


@_decide.register
def _(command: i.ChangeRole, state: UserState, now: datetime) -> list[Event]:
    _check_role(command.role)
    _check_user(command.user_id, state)
    if state.disabled:
        raise UserDisabled(f"user {command.user_id!r} is disabled", field="user_id")
    if command.role == state.role:
        return []
    return [i.RoleChanged(user_id=command.user_id, role=command.role, previous=state.role)]


@_decide.register
def _(command: i.DisableUser, state: UserState, now: datetime) -> list[Event]:
    _check_user(command.user_id, state)
    return [] if state.disabled else [i.UserDisabled(user_id=command.user_id)]


@_decide.register
def _(command: i.IssueToken, state: TokenState, now: datetime) -> list[Event]:
    if state.issued:
        raise AlreadyExists(f"token {command.token_id!r} already exists", field="token_id")
    _check_expiry(command.expires_at, now)
    return [i.TokenIssued(token_id=command.token_id, user_id=command.user_id, name=command.name,
                          token_hash=command.token_hash, expires_at=command.expires_at)]


@_decide.register
def _(command: i.RevokeToken, state: TokenState, now: datetime) -> list[Event]:
    if not state.issued:
        raise UnknownIdentity(f"no token {command.token_id!r}", field="token_id")
    return [] if state.revoked else [i.TokenRevoked(token_id=command.token_id, user_id=state.user_id)]


@_decide.register
def _(command: i.BootstrapPlatform, state: PlatformState, now: datetime) -> list[Event]:
    if state.bootstrapped:
        raise AlreadyBootstrapped("the platform is already bootstrapped")
    _check_expiry(command.expires_at, now)
    return [i.PlatformBootstrapped(admin_user_id=command.admin_user_id, token_id=command.token_id,
                                   token_hash=command.token_hash, expires_at=command.expires_at)]


def _check_role(role: str) -> None:
    if role not in i.ROLES:
        raise IdentityError(f"unknown role {role!r} (known: {', '.join(i.ROLES)})", field="role")


def _check_user(user_id: str, state: UserState) -> None:
    if not state.exists:
        raise UnknownIdentity(f"no user {user_id!r}", field="user_id")


def _check_expiry(expires_at: datetime, now: datetime) -> None:
    if expires_at <= now:
        raise IdentityError(f"must be in the future (now is {now.isoformat()})", field="expires_at")
    if expires_at - now > MAX_TOKEN_LIFETIME:
        raise IdentityError(f"a token lives at most {MAX_TOKEN_LIFETIME.days} days", field="expires_at")
