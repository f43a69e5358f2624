"""Clusters and nodes over HTTP: onboarding from YAML or JSON, dry runs, every spec problem, node actions."""

from __future__ import annotations

import time

import pytest
import yaml

from tests.e2e.conftest import CLUSTER

SPEC = """\
name: east
region: us-east
backend: simulator
pools:
  - name: train
nodes:
  - name: e0
    pool: train
    gpu_model: A100
    gpu_count: 4
    gpu_memory_gb: 40
  - name: e1
    pool: train
    gpu_model: A100
    gpu_count: 4
    gpu_memory_gb: 40
"""

BROKEN = """\
name: broken
pools:
  - name: train
nodes:
  - name: b0
    pool: nowhere
    gpu_count: -2
  - name: b0
    colour: red
"""

YAML = {"Content-Type": "application/yaml"}


@pytest.fixture(scope="module")
def member(api):
    return api.user("umbrella", "alice", "member")


def test_a_dry_run_lists_every_problem_with_path_and_line(api):
    r = api.admin.post("/v1/clusters", params={"dry_run": "true"}, content=BROKEN, headers=YAML)
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["valid"] is False and answer["summary"] is None
    by_path = {p["path"]: p for p in answer["problems"]}
    assert {"nodes[0].gpu_count", "nodes[1].colour"} <= set(by_path)
    assert by_path["nodes[0].gpu_count"]["line"] == 7
    assert any("nowhere" in p["message"] for p in answer["problems"])
    assert any("b0" in p["message"] for p in answer["problems"])  # the duplicate node name


def test_a_dry_run_of_a_valid_spec_summarises_it_and_onboards_nothing(api):
    r = api.admin.post("/v1/clusters", params={"dry_run": "true"}, content=SPEC, headers=YAML)
    answer = r.json()
    assert answer["valid"] is True and answer["problems"] == []
    assert answer["summary"]["gpus"] == 8 and answer["summary"]["gpus_by_model"] == {"A100": 8}
    assert api.admin.get("/v1/clusters/east").status_code == 404


def test_onboarding_a_broken_spec_is_422_with_spec_paths(api):
    r = api.admin.post("/v1/clusters", content=BROKEN, headers=YAML)
    assert r.status_code == 422
    error = r.json()["error"]
    paths = [p["path"] for p in error["problems"]]
    assert "spec.nodes[0].gpu_count" in paths and "spec.nodes[1].colour" in paths
    assert error["field"] == paths[0]
    assert api.admin.get("/v1/clusters/broken").status_code == 404


def test_onboard_from_yaml_then_read_cluster_and_nodes(api, member):
    r = api.admin.post("/v1/clusters", content=SPEC, headers=YAML)
    assert r.status_code == 202 and r.json() == {"id": "east", "status": "onboarded", "link": "/v1/clusters/east"}
    cluster = member.get("/v1/clusters/east").json()  # capacity is public to every tenant
    assert cluster["nodes"] == 2 and cluster["gpus_total"] == 8 and cluster["pools"] == ["train"]
    nodes = member.get("/v1/nodes", params={"cluster": "east"}).json()["items"]
    assert [n["name"] for n in nodes] == ["e0", "e1"]
    node = member.get("/v1/nodes/east/e0").json()
    assert node["gpus_free"] == 4 and node["status"] == "ready" and node["link"] == "/v1/nodes/east/e0"
    assert member.get("/v1/nodes/east/nope").status_code == 404
    names = [c["name"] for c in member.get("/v1/clusters").json()["items"]]
    assert "east" in names


def test_a_retried_onboarding_answers_at_once_and_another_spec_under_the_name_conflicts(api):
    spec = {**CLUSTER, "name": "west", "nodes": []}
    key = {"Idempotency-Key": "onboard-west"}
    first = api.admin.post("/v1/clusters", json=spec, headers=key)
    retry = api.admin.post("/v1/clusters", json=spec, headers=key)
    assert first.status_code == retry.status_code == 202 and retry.json()["status"] == "onboarded"
    started = time.monotonic()
    same = api.admin.post("/v1/clusters", json=spec)  # the domain decides nothing: no event to wait for
    assert same.status_code == 202 and same.json()["status"] == "onboarded"
    assert time.monotonic() - started < 2.0
    other = api.admin.post("/v1/clusters", json={**spec, "region": "mars"})
    assert other.status_code == 409
    assert other.json()["error"]["reason"] == "cluster_exists"


def test_only_platform_admins_onboard_or_touch_nodes(member):
    assert member.post("/v1/clusters", content=SPEC, headers=YAML).status_code == 403
    assert member.post("/v1/clusters/east/nodes/e0/cordon", json={}).status_code == 403


def test_cordon_drain_uncordon_a_node(api):
    r = api.admin.post("/v1/clusters/east/nodes/e1/cordon", json={"reason": "maintenance"})
    assert r.status_code == 202 and r.json()["status"] == "cordoned"
    assert api.admin.get("/v1/nodes", params={"state": "cordoned"}).json()["items"][0]["name"] == "e1"
    assert api.admin.post("/v1/clusters/east/nodes/e1/drain", json={}).json()["status"] == "draining"
    assert api.admin.post("/v1/clusters/east/nodes/e1/uncordon").json()["status"] == "ready"
    audit = api.admin.get("/v1/audit/node/east--e1").json()["items"]
    assert [e["type"].split(".")[2] for e in audit][-3:] == ["node_cordoned", "node_drain_requested",
                                                               "node_uncordoned"]


def test_node_actions_on_unknown_nodes_or_verbs(api):
    assert api.admin.post("/v1/clusters/east/nodes/ghost/cordon", json={}).status_code == 404
    r = api.admin.post("/v1/clusters/east/nodes/e0/reboot", json={})
    assert r.status_code == 422 and r.json()["error"]["field"] == "action"


def test_a_json_spec_with_a_wrong_type_names_the_field(api):
    spec = yaml.safe_load(SPEC) | {"name": "typed", "nodes": [{"name": "t0", "gpu_count": "8"}]}
    r = api.admin.post("/v1/clusters", json=spec)
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "spec.nodes[0].gpu_count"
