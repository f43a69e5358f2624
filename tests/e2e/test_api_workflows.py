"""Workflows over HTTP: submit YAML, the DAG with per-task state and job ids, every spec problem, cancel, watch."""

from __future__ import annotations

import json

import pytest

from tests.e2e.conftest import eventually

PIPELINE = """\
name: pipeline
tasks:
  - name: prep
    image: python:3.12
    command: [python, prep.py]
    outputs: [data]
  - name: train
    image: ghcr.io/acme/train:1
    gpus: 1
    gpu_model: H100
    inputs: [{task: prep, output: data}]
  - name: report
    image: python:3.12
    depends_on: [train]
    exit_actions: {0: complete, "1-3": reschedule}
    retries: 1
"""

BROKEN = """\
name: broken
tasks:
  - name: a
    image: x
    depends_on: [c]
  - name: b
    image: x
    depends_on: [a, ghost]
    gpus: -1
  - name: c
    image: x
    depends_on: [b]
"""

YAML = {"Content-Type": "application/yaml"}


@pytest.fixture(scope="module")
def member(api, fleet):
    return api.user("wayne", "bruce", "member")


def test_a_submitted_workflow_shows_its_dag_and_starts_its_first_task(member):
    r = member.post("/v1/workflows", content=PIPELINE, headers=YAML)
    assert r.status_code == 202, r.text
    id = r.json()["id"]
    assert r.json()["status"] == "running"
    wf = member.get(f"/v1/workflows/{id}").json()
    tasks = {t["name"]: t for t in wf["tasks"]}
    assert list(tasks) == ["prep", "train", "report"]
    assert tasks["train"]["depends_on"] == ["prep"] and tasks["report"]["depends_on"] == ["train"]
    ready = eventually(lambda: (t := {t["name"]: t for t in member.get(f"/v1/workflows/{id}").json()["tasks"]})
                       and t["prep"]["job_id"] and t)
    job_id = ready["prep"]["job_id"]
    assert ready["prep"]["status"] in ("ready", "running") and ready["train"]["status"] == "pending"
    jobs = eventually(lambda: member.get("/v1/jobs", params={"workflow": id}).json()["items"])
    assert [j["id"] for j in jobs] == [job_id] and jobs[0]["task"] == "prep"
    listed = member.get("/v1/workflows", params={"status": "running"}).json()["items"]
    assert id in [w["id"] for w in listed]


def test_every_problem_of_a_bad_workflow_is_listed_at_once(member):
    r = member.post("/v1/workflows", content=BROKEN, headers=YAML)
    assert r.status_code == 422
    problems = r.json()["error"]["problems"]
    paths = {p["path"] for p in problems}
    assert "spec.tasks[1].depends_on[1]" in paths  # unknown task 'ghost'
    assert "spec.tasks[1].gpus" in paths
    assert any("cycle" in p["message"] for p in problems)


def test_cancel_ends_the_workflow_and_its_unfinished_tasks(member):
    id = member.post("/v1/workflows", content=PIPELINE, headers=YAML).json()["id"]
    r = member.post(f"/v1/workflows/{id}/cancel", json={"reason": "enough"})
    assert r.status_code == 202 and r.json()["status"] == "cancelled"
    wf = member.get(f"/v1/workflows/{id}").json()
    assert {t["status"] for t in wf["tasks"]} == {"cancelled"} and wf["reason"] == "enough"
    again = member.post(f"/v1/workflows/{id}/cancel", json={})  # the domain: nothing left to cancel
    assert again.status_code == 202 and again.json()["status"] == "cancelled"
    assert again.elapsed.total_seconds() < 2.0
    events = member.get(f"/v1/workflows/{id}/events").json()["items"]
    assert events[0]["type"].endswith("workflow_submitted.v1") and events[-1]["type"].endswith("workflow_cancelled.v1")


def test_watch_streams_until_the_workflow_ends(member):
    id = member.post("/v1/workflows", content=PIPELINE, headers=YAML).json()["id"]
    types: list[str] = []
    with member.stream("GET", f"/v1/workflows/{id}/watch") as stream:
        for line in stream.iter_lines():
            if line.startswith("data: ") and '"type"' in line:
                types.append(json.loads(line.removeprefix("data: "))["type"].split(".")[2])
                if types == ["workflow_submitted"]:
                    member.post(f"/v1/workflows/{id}/cancel", json={})
            if line == "event: end":
                break
    assert types[0] == "workflow_submitted" and types[-1] == "workflow_cancelled"


def test_the_same_idempotency_key_submits_one_workflow(member):
    key = {**YAML, "Idempotency-Key": "wf-once"}
    first = member.post("/v1/workflows", content=PIPELINE, headers=key).json()
    second = member.post("/v1/workflows", content=PIPELINE, headers=key).json()
    assert first["id"] == second["id"]


def test_another_tenants_workflow_answers_like_a_missing_one(api, member):
    id = member.post("/v1/workflows", content=PIPELINE, headers=YAML).json()["id"]
    other = api.user("lexcorp", "lex", "tenant-admin")
    for method, path in [("GET", f"/v1/workflows/{id}"), ("POST", f"/v1/workflows/{id}/cancel"),
                         ("GET", f"/v1/workflows/{id}/events"), ("GET", f"/v1/workflows/{id}/watch"),
                         ("GET", f"/v1/audit/workflow/{id}")]:
        foreign, missing = other.request(method, path), other.request(method, path.replace(id, "nope"))
        assert foreign.status_code == missing.status_code == 404
        assert foreign.json() == json.loads(missing.text.replace("nope", id))
    assert api.admin.get(f"/v1/workflows/{id}").status_code == 200  # a platform admin sees every tenant
