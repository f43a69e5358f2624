"""Tenants, users, roles and tokens over HTTP: who may do what, tokens shown once and revocable."""

from __future__ import annotations

import json

import pytest

from tests.e2e.conftest import eventually


@pytest.fixture(scope="module")
def boss(api):
    return api.user("initech", "bill", "tenant-admin")


def test_whoami_names_the_bootstrap_admin(api):
    me = api.admin.get("/v1/whoami").json()
    assert me["tenant"] == "_platform" and me["user_id"] == "root" and me["role"] == "platform-admin"
    assert me["platform_admin"] is True and me["actor"] == "user:_platform/root"


def test_a_platform_admin_creates_lists_and_reads_tenants(api):
    r = api.admin.post("/v1/tenants", json={"tenant": "hooli", "display_name": "Hooli"})
    assert r.status_code == 202 and r.json() == {"id": "hooli", "status": "active", "link": "/v1/tenants/hooli"}
    assert api.admin.get("/v1/tenants/hooli").json()["display_name"] == "Hooli"
    names = [t["tenant"] for t in api.admin.get("/v1/tenants", params={"page_size": 500}).json()["items"]]
    assert "hooli" in names and "_platform" in names
    again = api.admin.post("/v1/tenants", json={"tenant": "hooli", "display_name": "Hooli"})
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"


def test_a_bad_tenant_name_is_invalid_with_its_field(api):
    r = api.admin.post("/v1/tenants", json={"tenant": "Not A Slug", "display_name": "x"})
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "tenant"


def test_a_tenant_admin_sees_only_its_tenant_and_cannot_create_tenants(api, boss):
    assert [t["tenant"] for t in boss.get("/v1/tenants").json()["items"]] == ["initech"]
    assert boss.get("/v1/tenants/hooli").status_code == 404
    assert boss.post("/v1/tenants", json={"tenant": "mine", "display_name": "x"}).status_code == 403
    r = boss.get("/v1/jobs", params={"tenant": "hooli"})
    assert r.status_code == 403 and r.json()["error"]["field"] == "tenant"


def test_a_tenant_admin_manages_users_of_its_tenant(boss):
    r = boss.post("/v1/users", json={"user_id": "milton", "name": "Milton", "role": "member"})
    assert r.status_code == 202 and r.json()["status"] == "active"
    assert boss.get("/v1/users/milton").json()["role"] == "member"
    r = boss.post("/v1/users/milton/role", json={"role": "viewer"})
    assert r.status_code == 202
    assert boss.get("/v1/users/milton").json()["role"] == "viewer"
    ids = [u["user_id"] for u in boss.get("/v1/users").json()["items"]]
    assert {"bill", "milton"} <= set(ids) and all(u["tenant"] == "initech" for u in boss.get("/v1/users").json()["items"])


def test_nobody_but_a_platform_admin_grants_platform_admin(boss):
    r = boss.post("/v1/users", json={"user_id": "evil", "name": "Evil", "role": "platform-admin"})
    assert r.status_code == 403
    r = boss.post("/v1/users", json={"user_id": "odd", "name": "Odd", "role": "emperor"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "role"


def test_a_member_cannot_manage_users(api):
    member = api.user("initech", "peter", "member")
    assert member.post("/v1/users", json={"user_id": "x", "name": "x", "role": "member"}).status_code == 403
    assert member.get("/v1/users/bill").status_code == 200


def test_users_of_another_tenant_answer_like_missing_ones(api, boss):
    api.user("hooli", "gavin", "member")
    foreign, missing = boss.get("/v1/users/gavin"), boss.get("/v1/users/nobody")
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json() == json.loads(missing.text.replace("nobody", "gavin"))
    assert boss.get("/v1/audit/user/gavin").status_code == 404


def test_a_new_token_works_at_once_is_listed_without_secret_and_revocation_stops_it(api, boss):
    r = boss.post("/v1/tokens", json={"name": "ci", "expires_in_s": 3600})
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["token"].startswith(f"tsk_{created['id']}_") and created["status"] == "active"
    ci = api.stack.client(created["token"])
    assert ci.get("/v1/whoami").json()["user_id"] == "bill"
    listed = boss.get("/v1/tokens").json()["items"]
    mine = next(t for t in listed if t["id"] == created["id"])
    assert mine["status"] == "active" and "token" not in mine and "token_hash" not in mine
    revoked = boss.delete(f"/v1/tokens/{created['id']}")
    assert revoked.status_code == 202 and revoked.json()["status"] == "revoked"
    assert ci.get("/v1/whoami").status_code == 401  # the same replica applied it before answering
    assert boss.delete(f"/v1/tokens/{created['id']}").json()["status"] == "revoked"


def test_members_see_and_revoke_only_their_own_tokens(api, boss):
    member = api.user("initech", "samir", "member")
    other = boss.post("/v1/tokens", json={"name": "boss-laptop"}).json()
    assert all(t["user_id"] == "samir" for t in member.get("/v1/tokens").json()["items"])
    assert member.delete(f"/v1/tokens/{other['id']}").status_code == 404
    assert member.post("/v1/tokens", json={"name": "x", "user_id": "bill"}).status_code == 404
    assert member.post("/v1/tokens", json={"name": "mine"}).status_code == 201


def test_tokens_cannot_be_issued_with_an_idempotency_key(boss):
    r = boss.post("/v1/tokens", json={"name": "x"}, headers={"Idempotency-Key": "k"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "header.Idempotency-Key"


def test_a_token_lifetime_above_the_maximum_is_refused(boss):
    r = boss.post("/v1/tokens", json={"name": "x", "expires_in_s": 10 * 365 * 86400})
    assert r.status_code == 422 and r.json()["error"]["field"] == "expires_in_s"


def test_disabling_a_user_stops_their_tokens(api, boss):
    victim = api.user("initech", "joanna", "member")
    assert victim.get("/v1/whoami").status_code == 200
    r = boss.post("/v1/users/joanna/disable")
    assert r.status_code == 202 and r.json()["status"] == "disabled"
    eventually(lambda: victim.get("/v1/whoami").status_code == 401, timeout=2)
    assert boss.post("/v1/users/joanna/disable").json()["status"] == "disabled"


def test_the_audit_trail_of_a_user_and_a_tenant(api, boss):
    trail = boss.get("/v1/audit/user/milton").json()["items"]
    assert [e["type"].split(".")[2] for e in trail] == ["user_created", "role_changed"]
    assert trail[0]["actor"] == f"user:initech/bill#{boss.get('/v1/whoami').json()['token_id']}"
    assert api.admin.get("/v1/audit/tenant/hooli").json()["items"][0]["type"].endswith("tenant_created.v1")
    assert boss.get("/v1/audit/tenant/hooli").status_code == 404
