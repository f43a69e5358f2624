"""The role x action matrix, tenant scope, role grants and token ownership."""

from __future__ import annotations

import pytest

from domains.identity import Principal
from domains.identity.permissions import (
    ACTIONS,
    READS,
    allowed,
    may_access,
    may_grant,
    may_manage_token,
)

WRITES = {"tenants:write", "users:write", "tokens:write", "clusters:write", "jobs:write", "workflows:write",
          "keys:write", "deployments:write"}
EXPECTED = {
    "platform-admin": ACTIONS,
    "tenant-admin": ACTIONS - {"tenants:write", "clusters:write"},
    "member": READS | {"jobs:write", "workflows:write", "tokens:write", "keys:write", "deployments:write"},
    "viewer": READS,
}


def test_the_contract_lists_exactly_these_actions():
    assert ACTIONS == READS | WRITES
    assert READS == {"tenants:read", "users:read", "tokens:read", "clusters:read", "nodes:read", "jobs:read",
                     "workflows:read", "usage:read", "audit:read", "allocation:read", "keys:read",
                     "deployments:read"}


@pytest.mark.parametrize("role", sorted(EXPECTED))
@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_role_action_matrix(role, action):
    assert allowed(role, action) is (action in EXPECTED[role])


def test_every_role_reads_clusters_and_nodes_but_only_platform_admins_write_clusters():
    assert all(allowed(r, "clusters:read") and allowed(r, "nodes:read") for r in EXPECTED)
    assert [r for r in EXPECTED if allowed(r, "clusters:write")] == ["platform-admin"]


@pytest.mark.parametrize("role,action", [("owner", "jobs:read"), ("", "jobs:read"), ("member", "jobs:delete"),
                                         ("platform-admin", "*")])
def test_unknown_roles_and_actions_are_refused(role, action):
    assert not allowed(role, action)


ROOT = Principal("_platform", "root", "platform-admin", "t1")
ADMIN = Principal("acme", "ann", "tenant-admin", "t2")
MEMBER = Principal("acme", "bob", "member", "t3")
VIEWER = Principal("acme", "vic", "viewer", "t4")
FAKE_ROOT = Principal("acme", "mallory", "platform-admin", "t5")


def test_principal_actor_and_platform_admin_needs_the_platform_tenant():
    assert MEMBER.actor == "user:acme/bob"
    assert ROOT.is_platform_admin and not FAKE_ROOT.is_platform_admin and not ADMIN.is_platform_admin


def test_only_platform_admins_reach_other_tenants():
    assert may_access(ROOT, "acme") and may_access(ROOT, "globex")
    assert may_access(ADMIN, "acme") and not may_access(ADMIN, "globex")
    assert not may_access(FAKE_ROOT, "globex")


def test_who_may_grant_which_role_where():
    assert may_grant(ROOT, "_platform", "platform-admin")
    assert not may_grant(ROOT, "acme", "platform-admin")  # platform-admin exists only in _platform
    assert may_grant(ROOT, "acme", "tenant-admin")
    assert may_grant(ADMIN, "acme", "tenant-admin") and may_grant(ADMIN, "acme", "viewer")
    assert not may_grant(ADMIN, "acme", "platform-admin")
    assert not may_grant(ADMIN, "globex", "member")
    assert not may_grant(MEMBER, "acme", "viewer")
    assert not may_grant(ADMIN, "acme", "owner")
    assert not may_grant(FAKE_ROOT, "_platform", "platform-admin")


def test_members_manage_only_their_own_tokens_viewers_none_admins_their_tenants():
    assert may_manage_token(MEMBER, "acme", "bob") and not may_manage_token(MEMBER, "acme", "ann")
    assert not may_manage_token(VIEWER, "acme", "vic")
    assert may_manage_token(ADMIN, "acme", "bob") and not may_manage_token(ADMIN, "globex", "x")
    assert may_manage_token(ROOT, "globex", "x")
