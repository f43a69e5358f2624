"""The identity read model: authenticate, views without secrets, paging, tracking and rebuild hashes."""

from __future__ import annotations

import pytest

from domains.identity import Principal
from projections.identity import IdentityModel
from projections.registry.paging import InvalidQuery
from schemas import identity as i
from tests.factories.identity import (
    DAY,
    PLATFORM,
    SECRET,
    T0,
    History,
    bootstrapped,
    token_issued,
    token_str,
)

ALICE = i.UserCreated(user_id="alice", name="Alice", role="member")


def model(*batches) -> IdentityModel:
    m = IdentityModel()
    for batch in batches:
        m.apply_batch(batch)
    return m


@pytest.fixture
def log() -> History:
    return History()


@pytest.fixture
def acme(log):
    """Tenant acme with member alice holding token tok000000001 (30 days)."""
    return model(log(PLATFORM, i.TenantCreated(tenant="acme", display_name="ACME")),
                 log("acme", ALICE, token_issued()))


def test_a_valid_token_authenticates_as_its_user(acme):
    assert acme.authenticate(token_str(), T0) == Principal("acme", "alice", "member", "tok000000001")


@pytest.mark.parametrize("given", ["garbage", "", token_str("tok000000009"), token_str(secret="x" * 43)])
def test_unknown_malformed_or_wrong_secret_tokens_do_not_authenticate(acme, given):
    assert acme.authenticate(given, T0) is None


def test_a_token_stops_at_its_expiry(acme):
    assert acme.authenticate(token_str(), T0 + 30 * DAY - DAY) is not None
    assert acme.authenticate(token_str(), T0 + 30 * DAY) is None


def test_revoking_or_disabling_stops_authentication_at_once(log, acme):
    acme.apply_batch(log("acme", i.TokenRevoked(token_id="tok000000001", user_id="alice")))
    assert acme.authenticate(token_str(), T0) is None
    assert acme.token("acme", "tok000000001").status(T0) == "revoked"

    other = model(log("acme", i.UserCreated(user_id="bob", name="Bob", role="viewer"),
                      token_issued("tok000000002", "bob")))
    assert other.authenticate(token_str("tok000000002"), T0) is not None
    other.apply_batch(log("acme", i.UserDisabled(user_id="bob")))
    assert other.authenticate(token_str("tok000000002"), T0) is None


def test_a_role_change_is_the_role_of_the_next_authentication(log, acme):
    acme.apply_batch(log("acme", i.RoleChanged(user_id="alice", role="tenant-admin", previous="member")))
    assert acme.authenticate(token_str(), T0).role == "tenant-admin"


def test_tokens_of_unknown_users_and_platform_admins_outside_the_platform_never_authenticate(log):
    m = model(log("acme", token_issued("tok000000003", "ghost")),
              log("acme", i.UserCreated(user_id="mallory", name="M", role="platform-admin"),
                  token_issued("tok000000004", "mallory")))
    assert m.authenticate(token_str("tok000000003"), T0) is None
    assert m.authenticate(token_str("tok000000004"), T0) is None


def test_a_token_id_taken_in_another_tenant_cannot_hijack_the_first(log, acme):
    acme.apply_batch(log("globex", i.UserCreated(user_id="eve", name="Eve", role="member"),
                         token_issued("tok000000001", "eve", secret="e" * 43)))
    assert acme.authenticate(token_str(secret="e" * 43), T0) is None
    assert acme.authenticate(token_str(), T0).tenant == "acme"


def test_the_bootstrap_creates_the_platform_tenant_its_admin_and_a_working_token(log):
    m = model(log(PLATFORM, bootstrapped()))
    assert m.bootstrapped and m.tenant(PLATFORM) is not None
    principal = m.authenticate(token_str("boot00000001"), T0)
    assert principal == Principal(PLATFORM, "root", "platform-admin", "boot00000001") and principal.is_platform_admin
    # the bootstrap reactor's copies on the user and token aggregates change nothing
    before = m.state_hash()
    m.apply_batch(log(PLATFORM, i.UserCreated(user_id="root", name="root", role="platform-admin"),
                      token_issued("boot00000001", "root", name="bootstrap")))
    assert m.authenticate(token_str("boot00000001"), T0) == principal
    assert m.user(PLATFORM, "root").created_at == T0 and m.state_hash() != before  # only the position moved
    m.apply_batch(log(PLATFORM, i.TokenRevoked(token_id="boot00000001", user_id="root")))
    assert m.authenticate(token_str("boot00000001"), T0) is None


def test_tenants_and_bootstraps_count_only_under_the_platform_tenant(log):
    m = model(log("acme", i.TenantCreated(tenant="globex", display_name="G"), bootstrapped()))
    assert m.tenant("globex") is None and not m.bootstrapped
    assert m.authenticate(token_str("boot00000001"), T0) is None


def test_views_never_carry_a_hash_or_secret(acme):
    view = acme.token("acme", "tok000000001")
    assert not any(SECRET in str(v) or (isinstance(v, str) and len(v) == 64) for v in vars_of(view))
    assert acme.tokens("acme").items == [view]


def vars_of(view) -> list:
    return [getattr(view, name) for name in view.__slots__]


def test_lists_are_per_tenant_filtered_and_paged(log):
    m = model(log(PLATFORM, *(i.TenantCreated(tenant=f"t{n}", display_name=f"T{n}") for n in range(5))),
              log("acme", *(i.UserCreated(user_id=f"u{n}", name="U", role="viewer" if n % 2 else "member")
                            for n in range(5)), *(token_issued(f"tok00000000{n}", f"u{n % 2}") for n in range(4))),
              log("globex", i.UserCreated(user_id="u9", name="G", role="member")))
    first = m.tenants(page_size=3)
    rest = m.tenants(page_size=3, cursor=first.next_cursor)
    assert [t.name for t in first.items + rest.items] == ["t0", "t1", "t2", "t3", "t4"] and rest.next_cursor is None
    assert [u.user_id for u in m.users("acme").items] == ["u0", "u1", "u2", "u3", "u4"]
    assert [u.user_id for u in m.users("acme", role="viewer").items] == ["u1", "u3"]
    assert [u.user_id for u in m.users("globex").items] == ["u9"]
    assert [t.token_id for t in m.tokens("acme", "u1").items] == ["tok000000001", "tok000000003"]
    assert m.tokens("globex").items == [] and m.user("globex", "u0") is None
    with pytest.raises(InvalidQuery):
        m.users("acme", cursor="not-a-cursor")


def test_replayed_events_are_no_ops_and_a_rebuild_has_the_same_hash(log):
    batch = log(PLATFORM, bootstrapped(), i.TenantCreated(tenant="acme", display_name="A")) + log(
        "acme", ALICE, token_issued(), i.TokenRevoked(token_id="tok000000001", user_id="alice"))
    live = model(batch[:3], batch[3:])
    assert live.position() == 5 and live.apply_batch(batch) == 0 and not live.apply(*batch[2])
    rebuilt = IdentityModel()
    rebuilt.bulk(True)
    rebuilt.apply_batch(batch)
    rebuilt.bulk(False)
    assert rebuilt.state_hash() == live.state_hash()
    rebuilt.reset()
    assert rebuilt.position() == 0 and rebuilt.tenant("acme") is None and not rebuilt.bootstrapped
