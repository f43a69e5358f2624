"""GET /v1/audit against real chdb: who did what to which object and when, scoped by tenant.

Mutations go through the API with real tokens; the ClickHouse projection stores every event; the
answers are checked against what was done (actor and token id) and against the objects' own trails.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.e2e.conftest import clickhouse_stack, eventually, job_spec

SUBMITTED = "tessera.scheduling.job_submitted.v1"


@pytest.fixture(scope="module")
def audit_api(tmp_path_factory):
    with clickhouse_stack(tmp_path_factory.mktemp("audit"), "audit") as (api, ch):
        yield api


def audit(client, **params) -> list[dict]:
    """Every page of /v1/audit (3 items a page, to go through the cursors)."""
    items, cursor = [], None
    while True:
        r = client.get("/v1/audit", params={**params, "page_size": 3, **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200, r.text
        items += r.json()["items"]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            return items


@pytest.fixture(scope="module")
def done(audit_api):
    """acme: ann (member) submits two jobs, one with a second token, and cancels one; globex: gus submits one."""
    api = audit_api
    ann = api.user("acme", "ann", "member")
    boss = api.user("acme", "alice", "tenant-admin")
    gus = api.user("globex", "gus", "member")
    r = ann.post("/v1/tokens", json={"name": "second"})
    assert r.status_code == 201, r.text
    ann2 = api.stack.client(r.json()["token"])
    before = datetime.now(UTC)
    jobs = {"first": ann.post("/v1/jobs", json=job_spec("first")).json()["id"]}
    middle = datetime.now(UTC)
    jobs["second"] = ann2.post("/v1/jobs", json=job_spec("second")).json()["id"]
    assert ann2.post(f"/v1/jobs/{jobs['second']}/cancel", json={"reason": "audit"}).status_code == 202
    jobs["globex"] = gus.post("/v1/jobs", json=job_spec("g")).json()["id"]
    # the projection is asynchronous: wait until the last mutation is there
    eventually(lambda: audit(api.admin, object=jobs["globex"], type="job_submitted"), timeout=20)
    tokens = {name: c.get("/v1/whoami").json()["token_id"] for name, c in
              (("ann", ann), ("ann2", ann2), ("boss", boss), ("gus", gus), ("root", api.admin))}
    return {"ann": ann, "ann2": ann2, "boss": boss, "gus": gus, "jobs": jobs, "tokens": tokens,
            "before": before, "middle": middle}


def test_a_mutation_made_with_a_token_names_the_user_and_that_token(done):
    jobs, tokens = done["jobs"], done["tokens"]
    [first] = audit(done["boss"], object=jobs["first"], type="job_submitted")
    assert (first["actor"], first["credential"], first["tenant"]) == ("user:acme/ann", tokens["ann"], "acme")
    [second] = audit(done["boss"], object=jobs["second"], type=SUBMITTED)
    assert (second["actor"], second["credential"]) == ("user:acme/ann", tokens["ann2"])
    with_second = audit(done["boss"], actor=f"user:acme/ann#{tokens['ann2']}", kind="job")
    assert {e["aggregate_id"] for e in with_second} == {jobs["second"]}
    assert [e["type"].split(".")[2] for e in with_second] == ["job_cancelled", "job_submitted"]  # newest first
    assert {e["aggregate_id"] for e in audit(done["boss"], actor="user:acme/ann", kind="job")} == {
        jobs["first"], jobs["second"]}


def test_the_list_holds_the_same_events_as_the_objects_own_trail(done):
    id = done["jobs"]["second"]
    trail = done["boss"].get(f"/v1/audit/job/{id}").json()["items"]
    listed = audit(done["boss"], kind="job", object=id)
    assert [e["id"] for e in reversed(listed)] == [e["id"] for e in trail]
    assert [e["data"] for e in reversed(listed)] == [e["data"] for e in trail]


def test_a_tenant_admin_sees_only_its_tenant_and_a_platform_admin_every_tenant(audit_api, done):
    mine = audit(done["boss"])
    assert mine and {e["tenant"] for e in mine} == {"acme"}
    assert done["jobs"]["globex"] not in {e["aggregate_id"] for e in mine}
    r = done["boss"].get("/v1/audit", params={"tenant": "globex"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    every = {e["tenant"] for e in audit(audit_api.admin)}
    assert {"acme", "globex", "_platform"} <= every
    assert {e["tenant"] for e in audit(audit_api.admin, tenant="globex")} == {"globex"}


def test_who_issued_a_token_is_recorded_and_its_hash_never_shown(audit_api, done):
    issued = audit(done["boss"], kind="token", type="token_issued")
    by_root = [e for e in issued if e["actor"] == "user:_platform/root"]
    assert by_root and all(e["credential"] == done["tokens"]["root"] for e in by_root)
    assert all(e["data"]["token_hash"] == "<redacted>" for e in issued)
    # a member sees token events only of tokens they handled themselves
    seen = audit(done["ann"], kind="token")
    assert [e["aggregate_id"] for e in seen] == [done["tokens"]["ann2"]]


def test_time_range_and_type_filters(done):
    jobs = done["jobs"]
    submitted = audit(done["boss"], type="job_submitted")
    assert {e["aggregate_id"] for e in submitted} == {jobs["first"], jobs["second"]}
    assert all(e["type"] == SUBMITTED for e in submitted)
    times = [datetime.fromisoformat(e["time"]) for e in submitted]
    assert times == sorted(times, reverse=True)
    window = {"from": done["before"].isoformat(), "to": done["middle"].isoformat()}
    assert {e["aggregate_id"] for e in audit(done["boss"], kind="job", **window)} == {jobs["first"]}
    later = audit(done["boss"], type="job_submitted", **{"from": done["middle"].isoformat()})
    assert {e["aggregate_id"] for e in later} == {jobs["second"]}  # (the control plane acts on both jobs later)
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert audit(done["boss"], **{"from": future}) == []


@pytest.mark.parametrize("params, status, field", [
    ({"type": "job_exploded"}, 422, "type"),
    ({"from": "2026-01-01T00:00:00"}, 422, "from"),
    ({"from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, 422, "to"),
    ({"kind": "no.such"}, 422, "kind"),
    ({"page_size": 100_000}, 422, "page_size"),
    ({"cursor": "garbage"}, 400, "cursor"),
    ({"actr": "x"}, 422, "actr"),
])
def test_bad_queries_name_the_field(done, params, status, field):
    r = done["boss"].get("/v1/audit", params=params)
    assert r.status_code == status, r.text
    assert r.json()["error"]["field"] == field


def test_without_clickhouse_the_audit_list_is_unavailable_but_object_trails_are_not(audit_api, done):
    replica = audit_api.stack.gateway()  # same bus, no ClickHouse client
    with audit_api.stack.client(audit_api.stack.admin_token, url=replica.url) as admin:
        r = admin.get("/v1/audit")
        assert r.status_code == 503 and r.json()["error"]["code"] == "audit_unavailable"
        eventually(lambda: admin.get(f"/v1/audit/job/{done['jobs']['first']}").status_code == 200)


def cli(audit_api, token: str, *args: str):
    from typer.testing import CliRunner

    from gateway.cli import app

    env = {"TESSERA_URL": audit_api.stack.url, "TESSERA_TOKEN": token, "COLUMNS": "250"}
    return CliRunner().invoke(app, ["audit", *args], env=env)


def test_the_cli_searches_with_filters_and_shows_who_what_which_object(audit_api, done):
    root = audit_api.stack.admin_token
    token = done["tokens"]["ann2"]
    found = cli(audit_api, root, "--actor", f"user:acme/ann#{token}", "--type", "job_cancelled", "--since", "1h",
                "-o", "json")
    assert found.exit_code == 0, found.stderr
    assert [e["aggregate_id"] for e in json.loads(found.stdout)["items"]] == [done["jobs"]["second"]]
    table = cli(audit_api, root, "job", done["jobs"]["second"], "--type", "job_cancelled", "--tenant", "acme")
    assert table.exit_code == 0, table.stderr
    row = next(line for line in table.stdout.splitlines() if "job_cancelled" in line)
    assert f"user:acme/ann#{token}" in row and f"job/{done['jobs']['second']}" in row and "reason=audit" in row
    assert cli(audit_api, root, "--until", "2000-01-01", "-o", "json").stdout.strip().startswith("{")
    bad = cli(audit_api, root, "--since", "yesterday")
    assert bad.exit_code != 0 and "--since" in bad.stderr
