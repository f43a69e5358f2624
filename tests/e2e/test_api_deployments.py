"""/v1/deployments and /v1/keys against the running stack (real nats-server, control plane, gateway).

Deployments: created from JSON and YAML on the `c1` fleet, their replicas
become jobs placed by the allocator (the answer shows slot state, placement
and, once an agent is registered in discovery, its live load), scaled within
min..max, stopped; bad specs and counts are 4xx naming the field. Keys: the
key is shown once and authenticates, listing never shows it, limits and
budget change, revocation stops it authenticating. Roles and tenants hold.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import yaml

from bus.discovery import AgentEntry, open_registry
from tests.e2e.conftest import eventually

SPEC = {"name": "chat", "model": "acme/llama-8b", "engine": "vllm", "gpus": 1, "gpu_model": "H100",
        "min_replicas": 1, "max_replicas": 3, "replicas": 2, "max_concurrent_requests": 8}


@pytest.fixture(scope="module")
def member(api):
    return api.user("infer", "infer-member", "member")


@pytest.fixture(scope="module")
def viewer(api):
    return api.user("infer", "infer-viewer", "viewer")


@pytest.fixture(scope="module")
def deployment(member, fleet) -> str:
    r = member.post("/v1/deployments", json=SPEC)
    assert r.status_code == 202, r.text
    return r.json()["id"]


def get(client, id: str) -> dict:
    r = client.get(f"/v1/deployments/{id}")
    assert r.status_code == 200, r.text
    return r.json()


def test_create_places_every_replica_as_a_job_on_the_fleet(member, deployment):
    body = eventually(lambda: (d := get(member, deployment))["status"] == "placed"
                      and all(r["status"] == "placed" for r in d["replicas"]) and d)
    assert body["desired"] == 2 and body["name"] == "chat" and body["spec"]["model"] == "acme/llama-8b"
    assert [r["index"] for r in body["replicas"]] == [0, 1]
    for replica in body["replicas"]:
        assert replica["status"] == "placed" and replica["load"] is None
        assert replica["placements"][0]["cluster"] == "c1" and len(replica["placements"][0]["gpu_indices"]) == 1
        job = member.get(f"/v1/jobs/{replica['job_id']}").json()
        assert job["status"] == "placed" and job["labels"]["deployment"] == deployment
    listed = member.get("/v1/deployments").json()["items"]
    assert [d["id"] for d in listed] == [deployment]


def test_a_registered_agent_shows_its_live_load(stack, member, deployment):
    replica = get(member, deployment)["replicas"][0]

    async def register():
        registry = await open_registry(stack.bus.js)
        await registry.put(AgentEntry(tenant="infer", deployment=deployment, model="acme/llama-8b", replica=0,
                                      generation=replica["generation"], url="http://10.0.0.1:8000", engine="vllm",
                                      running=5, waiting=2, kv_cache=0.4, max_concurrent=8,
                                      updated=datetime.now(UTC)))

    stack.call(register())
    load = get(member, deployment)["replicas"][0]["load"]
    assert load["running"] == 5 and load["waiting"] == 2 and load["live"] is True
    assert get(member, deployment)["replicas"][1]["load"] is None


def test_yaml_spec_and_every_spec_problem_is_named(member, fleet):
    r = member.post("/v1/deployments", content=yaml.safe_dump({**SPEC, "name": "yaml-one", "replicas": 1}),
                    headers={"Content-Type": "application/yaml"})
    assert r.status_code == 202, r.text
    bad = member.post("/v1/deployments", json={**SPEC, "min_replicas": 3, "max_replicas": 2})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "spec.max_replicas"
    bad = member.post("/v1/deployments", json={**SPEC, "gpus": "many"})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "spec.gpus"
    bad = member.post("/v1/deployments", json={**SPEC, "engine": "cpu"})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "spec.gpus"


def test_scale_within_bounds_and_refusals_name_the_field(member, deployment):
    r = member.post(f"/v1/deployments/{deployment}/scale", json={"replicas": 3})
    assert r.status_code == 202, r.text
    body = eventually(lambda: (d := get(member, deployment))["desired"] == 3 and len(d["replicas"]) == 3 and d)
    assert sorted(r["index"] for r in body["replicas"]) == [0, 1, 2]
    too_many = member.post(f"/v1/deployments/{deployment}/scale", json={"replicas": 4})
    assert too_many.status_code == 422 and too_many.json()["error"]["field"] == "replicas"
    assert member.post(f"/v1/deployments/{deployment}/scale", json={"replicas": -1}).status_code == 422
    r = member.post(f"/v1/deployments/{deployment}/scale", json={"replicas": 1})
    assert r.status_code == 202
    body = eventually(lambda: (d := get(member, deployment))["desired"] == 1 and len(d["replicas"]) == 1 and d)
    cancelled = [s["job_id"] for s in body["stopping"]] or []
    for job_id in cancelled:
        eventually(lambda j=job_id: member.get(f"/v1/jobs/{j}").json()["status"] == "cancelled")


def test_stop_ends_every_replica_and_is_terminal(member, deployment):
    jobs = [r["job_id"] for r in get(member, deployment)["replicas"]]
    r = member.post(f"/v1/deployments/{deployment}/stop", json={"reason": "done"})
    assert r.status_code == 202 and r.json()["status"] == "stopped", r.text
    for job_id in jobs:
        eventually(lambda j=job_id: member.get(f"/v1/jobs/{j}").json()["status"] == "cancelled")
    eventually(lambda: get(member, deployment)["replicas"] == [] and get(member, deployment)["stopping"] == [])
    refused = member.post(f"/v1/deployments/{deployment}/scale", json={"replicas": 2})
    assert refused.status_code == 409, refused.text
    again = member.post(f"/v1/deployments/{deployment}/stop")
    assert again.status_code == 202 and again.json()["status"] == "stopped"
    types = [e["type"] for e in member.get(f"/v1/deployments/{deployment}/events").json()["items"]]
    assert types[0].endswith("deployment_requested.v1") and any(t.endswith("deployment_stopped.v1") for t in types)


def test_viewers_read_but_cannot_write_and_other_tenants_see_nothing(api, viewer, member, deployment):
    assert viewer.get(f"/v1/deployments/{deployment}").status_code == 200
    for method, path, body in (("POST", "/v1/deployments", SPEC), ("POST", f"/v1/deployments/{deployment}/stop", {}),
                               ("POST", f"/v1/deployments/{deployment}/scale", {"replicas": 1})):
        r = viewer.request(method, path, json=body)
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    stranger = api.user("other-infer", "other-admin", "tenant-admin")
    foreign = stranger.get(f"/v1/deployments/{deployment}")
    missing = stranger.get("/v1/deployments/no-such-deployment")
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json()["error"]["message"].replace(deployment, "X") == \
        missing.json()["error"]["message"].replace("no-such-deployment", "X")
    assert stranger.post(f"/v1/deployments/{deployment}/stop").status_code == 404
    assert stranger.get("/v1/deployments").json()["items"] == []
    assert api.admin.get("/v1/deployments", params={"tenant": "infer"}).json()["items"]


def test_an_api_key_is_shown_once_authenticates_and_revocation_is_immediate(stack, member, viewer):
    r = member.post("/v1/keys", json={"name": "app", "models": ["acme/llama-8b"], "rpm": 60, "budget": "12.50",
                                      "expires_in_s": 3600})
    assert r.status_code == 201, r.text
    created = r.json()
    key, key_id = created["key"], created["id"]
    assert key.startswith("tsk-live-") and created["status"] == "active" and created["budget"] == "12.50"
    identity = stack.primary.services.identity
    principal = identity.authenticate_key(key, datetime.now(UTC))
    assert principal is not None and principal.tenant == "infer" and principal.rpm == 60
    listed = viewer.get("/v1/keys")
    assert listed.status_code == 200 and key not in listed.text and key_id in listed.text
    assert viewer.get(f"/v1/keys/{key_id}").json()["allowed_models"] == ["acme/llama-8b"]

    assert member.post(f"/v1/keys/{key_id}/limits", json={"rpm": 10, "tpm": 1000}).status_code == 202
    assert member.post(f"/v1/keys/{key_id}/budget", json={"budget": "5"}).status_code == 202
    shown = member.get(f"/v1/keys/{key_id}").json()
    assert (shown["rpm"], shown["tpm"], shown["budget"]) == (10, 1000, "5")
    assert identity.authenticate_key(key, datetime.now(UTC)).tpm == 1000
    bad = member.post(f"/v1/keys/{key_id}/budget", json={"budget": "-1"})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "budget"
    assert shown["budget_mode"] == "hard"  # the default
    assert member.post(f"/v1/keys/{key_id}/budget", json={"budget": "5", "budget_mode": "soft"}).status_code == 202
    assert member.get(f"/v1/keys/{key_id}").json()["budget_mode"] == "soft"
    assert identity.authenticate_key(key, datetime.now(UTC)).budget_mode == "soft"
    bad = member.post(f"/v1/keys/{key_id}/budget", json={"budget": "5", "budget_mode": "lenient"})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "budget_mode"

    assert viewer.delete(f"/v1/keys/{key_id}").status_code == 403
    r = member.delete(f"/v1/keys/{key_id}")
    assert r.status_code == 202 and r.json()["status"] == "revoked"
    assert identity.authenticate_key(key, datetime.now(UTC)) is None
    assert member.delete(f"/v1/keys/{key_id}").json()["status"] == "revoked"  # idempotent
    assert member.post(f"/v1/keys/{key_id}/limits", json={"rpm": 1}).status_code == 409


def test_keys_are_refused_idempotently_and_scoped_to_the_tenant(api, member):
    r = member.post("/v1/keys", json={"name": "x"}, headers={"Idempotency-Key": "k1"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "header.Idempotency-Key"
    bad = member.post("/v1/keys", json={"name": "x", "rpm": 0})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "rpm"
    key_id = member.post("/v1/keys", json={"name": "mine"}).json()["id"]
    stranger = api.user("other-infer", "other-member", "member")
    assert stranger.get(f"/v1/keys/{key_id}").status_code == 404
    assert stranger.delete(f"/v1/keys/{key_id}").status_code == 404
    assert key_id not in stranger.get("/v1/keys").text
    assert member.get(f"/v1/keys/{key_id}").json()["status"] == "active"
