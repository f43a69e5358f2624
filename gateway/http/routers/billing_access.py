"""Who may administer billing, as route dependencies (the rest of auth.py's rules apply unchanged).

    rate cards: publish          platform admins
    credits: grant, revoke       platform admins, for the tenant named by `X-Tessera-Tenant`
    invoices: void               platform admins, for the tenant named by `X-Tessera-Tenant`
    budget: set, clear           tenant admins (their own tenant); platform admins (the named tenant)
    everything billing: read     every role of the tenant (`usage:read`); rate cards: every caller

The roles are those of `domains.identity.permissions` (`ADMINS`, `is_platform_admin`);
401 comes first, then 403, then the query check (a stranger learns nothing about the
route), then the tenant scope of auth.py (anyone but a platform admin naming another
tenant: 403). A platform admin's billing write must name its tenant: they own none to
default to (422 `header.X-Tessera-Tenant`), and the tenant must exist (404 otherwise:
a typo never opens a billing account for nobody).
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request, Security

from domains.identity.permissions import ADMINS
from domains.identity.principal import Principal
from gateway.http.auth import WRITE_TENANT, Caller, bearer_scheme, principal_of, scoped
from gateway.http.errors import Forbidden, Invalid, missing
from gateway.http.services import Services

HEADER = "header.X-Tessera-Tenant"


def platform_admin(what: str) -> Callable:
    async def dependency(request: Request, _=Security(bearer_scheme)) -> Principal:
        principal = principal_of(request, "usage:read")
        if not principal.is_platform_admin:
            raise Forbidden(f"only platform admins may {what}")
        return principal

    return dependency


def _checked(request: Request, what: str, may: Callable[[Principal], bool], who: str, tenant: str | None
             ) -> Caller:
    principal = getattr(request.state, "principal", None)
    if principal is not None and not may(principal):
        raise Forbidden(f"only {who} may {what}")
    return scoped(principal_of(request, "usage:read"), tenant, where=HEADER)


def platform_admin_in_tenant(what: str) -> Callable:
    async def dependency(request: Request, _=Security(bearer_scheme), x_tessera_tenant: str | None = WRITE_TENANT
                         ) -> Caller:
        return _checked(request, what, lambda p: p.is_platform_admin, "platform admins", x_tessera_tenant)

    return dependency


def billing_admin(what: str) -> Callable:
    async def dependency(request: Request, _=Security(bearer_scheme), x_tessera_tenant: str | None = WRITE_TENANT
                         ) -> Caller:
        return _checked(request, what, lambda p: p.is_platform_admin or p.role in ADMINS,
                        "tenant admins and platform admins", x_tessera_tenant)

    return dependency


def target_tenant(s: Services, caller: Caller) -> str:
    """The tenant a billing write acts on: the caller's own, or the one a platform admin named (it must exist)."""
    if caller.scope is None:
        raise Invalid([(HEADER, "required for platform admins: name the tenant with X-Tessera-Tenant")])
    if caller.principal.is_platform_admin and s.identity.tenant(caller.scope) is None:
        raise missing("tenant", caller.scope)
    return caller.scope
