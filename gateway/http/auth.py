"""Who calls, in which tenant, allowed to do what: the dependencies every route declares.

- `authenticator(identity, clock)` -> `(scope) -> Principal | None`: the bearer
  token of the request checked against the identity read model
  (`IdentityModel.authenticate(token, now)`: unknown, bad secret, expired,
  revoked, disabled user -> None; hashes compared in constant time there).
  Run once per request by the limits middleware, which leaves the principal
  in `request.state.principal`; the token itself is never kept or logged.
- `reader(action)` / `writer(action)`: 401 without a principal, 403 when the
  role lacks the action (domains.identity.permissions.allowed), then the
  tenant scope of the call (`Caller`): the caller's own tenant; for a platform
  admin the one named by `?tenant=` (reads) or `X-Tessera-Tenant` (writes),
  and every tenant when none is named (new objects then go to the admin's
  own tenant). Anyone else naming another tenant gets 403.
- `Caller.owns(tenant)`: the object belongs to the tenant in scope. Routes
  answer `errors.missing(...)` otherwise: a foreign id answers exactly like a
  missing one (S1).
Every dependency here is `async def`: they do no I/O, and a sync one would
run in the threadpool (two thread hops per request).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from fastapi import Header, Query, Request, Security
from fastapi.security import HTTPBearer

from domains.identity.permissions import allowed
from domains.identity.principal import Principal
from gateway.http.errors import Forbidden, Invalid, Unauthenticated
from gateway.http.strict import check_query

TENANT_PATTERN = r"^[A-Za-z0-9_-]{0,128}$"  # empty: none named
TENANT = re.compile(TENANT_PATTERN)
bearer_scheme = HTTPBearer(auto_error=False, description="A Tessera token: `Authorization: Bearer tsk_...`")


@dataclass(frozen=True)
class Caller:
    principal: Principal
    scope: str | None  # the tenant whose objects the call may see; None: every tenant (platform admins)
    acting: str  # the tenant new objects are created in

    @property
    def actor(self) -> str:
        return credited(self.principal)

    @property
    def user_id(self) -> str:
        return self.principal.user_id

    def owns(self, tenant: str) -> bool:
        return self.scope is None or self.scope == tenant


def credited(principal: Principal) -> str:
    """Envelope.actor of the caller's commands: who, and the token they used ("user:acme/ann#<token_id>")."""
    return f"{principal.actor}#{principal.token_id}"


def bearer_token(scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() or None if scheme.lower() == "bearer" else None
    return None


def authenticator(identity, clock: Callable[[], datetime]) -> Callable:
    def authenticate(scope) -> Principal | None:
        token = bearer_token(scope)
        if token is None:
            return None
        try:
            return identity.authenticate(token, clock())
        except Exception:  # a malformed token is just not a credential; never echo it
            return None

    return authenticate


def principal_of(request: Request, action: str) -> Principal:
    principal = getattr(request.state, "principal", None)
    if principal is None:
        raise Unauthenticated()
    if not allowed(principal.role, action):
        raise Forbidden(f"role {principal.role!r} may not {action.replace(':', ' ')}")
    check_query(request)  # after 401/403: a stranger learns nothing about the route
    return principal


def scoped(principal: Principal, tenant: str | None, *, where: str) -> Caller:
    """The caller's tenant scope: their own; a platform admin's named tenant, or every tenant if none is named."""
    tenant = tenant or None  # `?tenant=` (empty) names no tenant
    if tenant is not None and not TENANT.match(tenant):
        raise Invalid([(where, "must be a tenant name: letters, digits, '_' and '-'")])
    if principal.is_platform_admin:
        return Caller(principal, tenant, tenant or principal.tenant)
    if tenant is not None and tenant != principal.tenant:
        raise Forbidden("only platform admins may act on another tenant", field=where)
    return Caller(principal, principal.tenant, principal.tenant)


READ_TENANT = Query(None, pattern=TENANT_PATTERN,
                    description="platform admins: the tenant to read (default: every tenant)")
WRITE_TENANT = Header(None, pattern=TENANT_PATTERN,
                      description="platform admins: the tenant to act in (default: their own)")


def reader(action: str) -> Callable:
    async def dependency(request: Request, _=Security(bearer_scheme), tenant: str | None = READ_TENANT) -> Caller:
        return scoped(principal_of(request, action), tenant, where="tenant")

    return dependency


def writer(action: str) -> Callable:
    async def dependency(request: Request, _=Security(bearer_scheme), x_tessera_tenant: str | None = WRITE_TENANT
                         ) -> Caller:
        return scoped(principal_of(request, action), x_tessera_tenant, where="header.X-Tessera-Tenant")

    return dependency


def permitted(action: str) -> Callable:
    """The role check alone, for platform-wide objects (clusters, nodes) that belong to no tenant."""
    async def dependency(request: Request, _=Security(bearer_scheme)) -> Principal:
        return principal_of(request, action)

    return dependency


async def anyone(request: Request, _=Security(bearer_scheme)) -> Principal:
    """Any authenticated caller (whoami)."""
    principal = getattr(request.state, "principal", None)
    if principal is None:
        raise Unauthenticated()
    check_query(request)
    return principal
