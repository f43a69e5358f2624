"""Jobs over HTTP against the running stack: submit (JSON, YAML), read-your-writes, Idempotency-Key,
list/get/cancel/events/watch, allocation dry-run, and the errors a user meets on the way."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest
import yaml

from bus.logs import publish_line
from schemas.logs import LogLine
from tests.e2e.conftest import FAST, eventually, job_spec, replace


@pytest.fixture(scope="module")
def member(api, fleet):
    return api.user("acme", "ann", "member")


def test_a_submitted_job_is_readable_at_once_and_gets_placed(member):
    r = member.post("/v1/jobs", json=job_spec("first", gpus=2, labels={"team": "ml"}))
    assert r.status_code == 202, r.text
    answer = r.json()
    assert answer["status"] != "pending"
    assert answer["link"] == f"/v1/jobs/{answer['id']}"
    got = member.get(answer["link"])  # read-your-writes: no retry loop before the first read
    assert got.status_code == 200
    job = got.json()
    assert job["tenant"] == "acme" and job["name"] == "first" and job["spec"]["gpus"] == 2
    placed = eventually(lambda: (j := member.get(answer["link"]).json())["status"] == "placed" and j)
    assert len(placed["placements"]) == 1 and len(placed["placements"][0]["gpu_indices"]) == 2


def test_a_yaml_spec_is_accepted(member):
    body = yaml.safe_dump(job_spec("from-yaml"))
    r = member.post("/v1/jobs", content=body, headers={"Content-Type": "application/yaml"})
    assert r.status_code == 202, r.text
    assert member.get(r.json()["link"]).json()["name"] == "from-yaml"


def test_the_same_idempotency_key_twice_makes_one_job(member):
    headers = {"Idempotency-Key": "retry-me-1"}
    first = member.post("/v1/jobs", json=job_spec("once"), headers=headers)
    second = member.post("/v1/jobs", json=job_spec("once"), headers=headers)
    assert first.status_code == second.status_code == 202
    assert first.json()["id"] == second.json()["id"]
    named = [j for j in member.get("/v1/jobs", params={"page_size": 500}).json()["items"] if j["name"] == "once"]
    assert len(named) == 1


def test_the_same_idempotency_key_with_another_body_is_a_conflict(member):
    headers = {"Idempotency-Key": "retry-me-2"}
    assert member.post("/v1/jobs", json=job_spec("a"), headers=headers).status_code == 202
    r = member.post("/v1/jobs", json=job_spec("b"), headers=headers)
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "idempotency_mismatch"


def test_every_problem_of_a_bad_spec_is_listed_with_its_path(member):
    r = member.post("/v1/jobs", json={"name": "bad name", "image": "", "gpus": -1, "colour": "red"})
    assert r.status_code == 422
    error = r.json()["error"]
    paths = {p["path"] for p in error["problems"]}
    assert {"spec.name", "spec.image", "spec.gpus", "spec.colour"} <= paths
    assert error["code"] == "invalid" and error["field"] in paths


def test_platform_labels_are_refused_in_a_tenants_spec(member):
    r = member.post("/v1/jobs", json=job_spec("sneaky", labels={"tessera.dev/component": "inference-agent"}))
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "spec.labels.tessera.dev/component"
    assert "reserved" in r.json()["error"]["message"]


@pytest.mark.parametrize("body, ctype, status, code", [
    (b"{not json", "application/json", 400, "bad_request"),
    (b"name: [unclosed", "application/yaml", 400, "bad_request"),
    (b"- a list", "application/yaml", 422, "invalid"),
    (b"name=x", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
])
def test_unreadable_bodies_answer_a_json_error(member, body, ctype, status, code):
    r = member.post("/v1/jobs", content=body, headers={"Content-Type": ctype})
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code


def test_list_filters_sorts_and_pages(member):
    for i in range(3):
        assert member.post("/v1/jobs", json=job_spec(f"paged-{i}", labels={"batch": "p"})).status_code == 202
    first = member.get("/v1/jobs", params={"label": "batch=p", "page_size": 2, "sort": "created"}).json()
    assert [j["name"] for j in first["items"]] == ["paged-0", "paged-1"] and first["next_cursor"]
    rest = member.get("/v1/jobs", params={"label": "batch=p", "page_size": 2, "sort": "created",
                                          "cursor": first["next_cursor"]}).json()
    assert [j["name"] for j in rest["items"]] == ["paged-2"] and rest["next_cursor"] is None
    bad = member.get("/v1/jobs", params={"sort": "colour"})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "sort"
    garbled = member.get("/v1/jobs", params={"cursor": "not-a-cursor"})
    assert garbled.status_code == 400 and garbled.json()["error"]["field"] == "cursor"


def test_cancel_ends_the_job_and_a_second_cancel_is_a_conflict(member):
    id = member.post("/v1/jobs", json=job_spec("doomed")).json()["id"]
    r = member.post(f"/v1/jobs/{id}/cancel", json={"reason": "changed my mind"})
    assert r.status_code == 202 and r.json()["status"] == "cancelled"
    again = member.post(f"/v1/jobs/{id}/cancel", json={})
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "conflict"


def test_events_show_type_actor_and_causation(member):
    id = member.post("/v1/jobs", json=job_spec("audited")).json()["id"]
    member.post(f"/v1/jobs/{id}/cancel", json={"reason": "audit"})
    events = member.get(f"/v1/jobs/{id}/events").json()["items"]
    types = [e["type"] for e in events]
    assert types[0] == "tessera.scheduling.job_submitted.v1" and types[-1] == "tessera.scheduling.job_cancelled.v1"
    token_id = member.get("/v1/whoami").json()["token_id"]
    assert events[0]["actor"] == f"user:acme/ann#{token_id}" and events[0]["causation"]  # who, with which token
    audit = member.get(f"/v1/audit/job/{id}").json()["items"]
    assert [e["id"] for e in audit] == [e["id"] for e in events]


def test_watch_streams_the_jobs_events_until_it_ends(api, member):
    id = member.post("/v1/jobs", json=job_spec("watched")).json()["id"]
    seen: list[str] = []
    with member.stream("GET", f"/v1/jobs/{id}/watch") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        cancelled = False
        for line in stream.iter_lines():
            if line.startswith("event: "):
                seen.append(line.removeprefix("event: "))
            if line.startswith("data: ") and seen[-1] == "event":
                data = json.loads(line.removeprefix("data: "))
                if data["type"].endswith("job_queued.v1") and not cancelled:
                    assert member.post(f"/v1/jobs/{id}/cancel", json={}).status_code == 202
                    cancelled = True
            if seen and seen[-1] == "end":
                break
    assert seen.count("event") >= 3 and seen[-1] == "end"


def test_logs_of_a_job_without_output_are_an_empty_page(member):
    id = member.post("/v1/jobs", json=job_spec("quiet")).json()["id"]
    r = member.get(f"/v1/jobs/{id}/logs")
    assert r.status_code == 200 and r.json() == {"items": [], "next_cursor": None}


def test_allocation_dry_run_names_candidates_and_rejections(member):
    r = member.post("/v1/allocation/dry-run", json=job_spec("probe", gpus=4))
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["candidates"] and answer["placements"]
    too_big = member.post("/v1/allocation/dry-run", json=job_spec("huge", gpus=16)).json()
    assert too_big["candidates"] == [] and too_big["reason"]["code"] == "insufficient_gpus"
    assert set(too_big["rejected"]) == {"c1--n0", "c1--n1"}


def test_a_viewer_reads_but_cannot_submit(api, fleet):
    viewer = api.user("acme", "vic", "viewer")
    assert viewer.get("/v1/jobs").status_code == 200
    r = viewer.post("/v1/jobs", json=job_spec("nope"))
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"


def test_another_tenants_job_answers_exactly_like_a_missing_one(api, member):
    id = member.post("/v1/jobs", json=job_spec("private")).json()["id"]
    other = api.user("globex", "gus", "tenant-admin")
    for method, path in [("GET", f"/v1/jobs/{id}"), ("GET", f"/v1/jobs/{id}/events"),
                         ("POST", f"/v1/jobs/{id}/cancel"), ("GET", f"/v1/jobs/{id}/watch"),
                         ("GET", f"/v1/jobs/{id}/logs"), ("GET", f"/v1/audit/job/{id}")]:
        foreign = other.request(method, path)
        missing = other.request(method, path.replace(id, "no-such-job"))
        assert foreign.status_code == missing.status_code == 404
        assert foreign.json() == json.loads(missing.text.replace("no-such-job", id))
    assert all(j["id"] != id for j in other.get("/v1/jobs").json()["items"])


def test_no_token_is_401_and_a_bad_one_too(api):
    anonymous = httpx.Client(base_url=api.stack.url)
    r = anonymous.get("/v1/jobs")
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthenticated"
    forged = api.stack.client("tsk_AAAAAAAAAAAA_" + "x" * 43)
    assert forged.get("/v1/jobs").status_code == 401


def publish_lines(stack, tenant: str, job_id: str, *texts: str, stream: str = "stdout") -> None:
    async def publish() -> None:
        for text in texts:
            line = LogLine(job_id=job_id, attempt=1, stream=stream, line=text, time=datetime.now(UTC))
            await publish_line(stack.bus.js, tenant, "main", line)

    stack.call(publish())


def test_logs_come_back_in_order_and_page_by_cursor(api, member):
    id = member.post("/v1/jobs", json=job_spec("chatty")).json()["id"]
    publish_lines(api.stack, "acme", id, "one", "two", "three")
    publish_lines(api.stack, "acme", id, "oops", stream="stderr")
    lines = member.get(f"/v1/jobs/{id}/logs").json()["items"]
    assert [(l["line"], l["stream"]) for l in lines] == [("one", "stdout"), ("two", "stdout"), ("three", "stdout"),
                                                         ("oops", "stderr")]
    first = member.get(f"/v1/jobs/{id}/logs", params={"limit": 2}).json()
    assert [l["line"] for l in first["items"]] == ["one", "two"] and first["next_cursor"]
    rest = member.get(f"/v1/jobs/{id}/logs", params={"cursor": first["next_cursor"]}).json()
    assert [l["line"] for l in rest["items"]] == ["three", "oops"] and rest["next_cursor"] is None


def test_following_logs_streams_new_lines_and_ends_when_the_job_ends(api, member):
    id = member.post("/v1/jobs", json=job_spec("tailed")).json()["id"]
    publish_lines(api.stack, "acme", id, "before")
    got: list[str] = []
    with member.stream("GET", f"/v1/jobs/{id}/logs", params={"follow": "true"}) as stream:
        for line in stream.iter_lines():
            if line.startswith("data: ") and '"line"' in line:
                got.append(json.loads(line.removeprefix("data: "))["line"])
                if got == ["before"]:
                    publish_lines(api.stack, "acme", id, "after")
                if got == ["before", "after"]:
                    assert member.post(f"/v1/jobs/{id}/cancel", json={}).status_code == 202
            if line == "event: end":
                break
    assert got == ["before", "after"]


def test_an_idle_watch_gets_heartbeat_comments(api, member):
    replica = api.stack.gateway(replace(FAST, sse_heartbeat=0.2))
    id = member.post("/v1/jobs", json=job_spec("idle", gpus=64)).json()["id"]  # never fits: stays queued
    token = member.headers["Authorization"].split()[1]
    beats = 0
    with api.stack.client(token, url=replica.url).stream("GET", f"/v1/jobs/{id}/watch") as stream:
        for line in stream.iter_lines():
            beats += line == ": heartbeat"
            if beats == 2:
                break
    assert beats == 2
