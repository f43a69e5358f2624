"""Who may do what: roles x actions, and the tenant and ownership scope around them.

    action            platform-admin  tenant-admin  member  viewer
    *:read                 yes            yes         yes     yes
    jobs:write             yes            yes         yes     -
    workflows:write        yes            yes         yes     -
    tokens:write           yes            yes         own     -
    keys:write             yes            yes         yes     -
    deployments:write      yes            yes         yes     -
    users:write            yes            yes         -       -
    tenants:write          yes            -           -       -
    clusters:write         yes            -           -       -

Reads are of the caller's own tenant, except clusters and nodes: capacity is
public to every tenant (writes to them are platform-admin only). A platform
admin acts on any tenant; everyone else only on their own (`may_access`).
Unknown roles and actions are refused (fail closed). Pure: no I/O.

API keys (`keys:*`) belong to the tenant, not to a user: tenant admins and
members create and revoke any key of their tenant (`may_manage_key`).
"""

from __future__ import annotations

from typing import Literal, get_args

from domains.identity.principal import PLATFORM_ADMIN, Principal
from schemas.envelope import PLATFORM_TENANT

Action = Literal[
    "tenants:read", "tenants:write", "users:read", "users:write", "tokens:read", "tokens:write",
    "clusters:read", "clusters:write", "nodes:read", "jobs:read", "jobs:write", "workflows:read",
    "workflows:write", "usage:read", "audit:read", "allocation:read", "keys:read", "keys:write",
    "deployments:read", "deployments:write",
]
ACTIONS: frozenset[str] = frozenset(get_args(Action))
READS: frozenset[str] = frozenset(a for a in ACTIONS if a.endswith(":read"))
GRANTS: dict[str, frozenset[str]] = {
    PLATFORM_ADMIN: ACTIONS,
    "tenant-admin": ACTIONS - {"tenants:write", "clusters:write"},
    "member": READS | {"jobs:write", "workflows:write", "tokens:write", "keys:write", "deployments:write"},
    "viewer": READS,
}
ADMINS = frozenset({PLATFORM_ADMIN, "tenant-admin"})


def allowed(role: str, action: str) -> bool:
    return action in GRANTS.get(role, frozenset())


def may_access(principal: Principal, tenant: str) -> bool:
    """The caller may act in `tenant` at all (its role then decides what)."""
    return principal.is_platform_admin or principal.tenant == tenant


def may_grant(principal: Principal, tenant: str, role: str) -> bool:
    """The caller may create a user with, or change a user to, `role` in `tenant`.

    platform-admin exists only in `_platform` and only a platform admin grants
    it; a tenant admin grants tenant-admin, member and viewer in its tenant.
    """
    if role not in GRANTS or not allowed(principal.role, "users:write") or not may_access(principal, tenant):
        return False
    if role == PLATFORM_ADMIN:
        return principal.is_platform_admin and tenant == PLATFORM_TENANT
    return True


def may_manage_token(principal: Principal, tenant: str, owner: str) -> bool:
    """Issue or revoke a token of user `owner` in `tenant`: admins for anyone there, members their own."""
    if not allowed(principal.role, "tokens:write") or not may_access(principal, tenant):
        return False
    return principal.role in ADMINS or (principal.tenant == tenant and principal.user_id == owner)


def may_manage_key(principal: Principal, tenant: str) -> bool:
    """Create, revoke or change an API key of `tenant`: anyone holding keys:write there."""
    return allowed(principal.role, "keys:write") and may_access(principal, tenant)
