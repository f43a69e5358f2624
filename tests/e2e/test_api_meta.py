"""The API's self-description and edges: /healthz, /openapi.json, /docs, unknown routes, error bodies."""

from __future__ import annotations

import httpx

ROUTES = {
    ("get", "/v1/whoami"), ("post", "/v1/tenants"), ("get", "/v1/tenants"), ("get", "/v1/tenants/{name}"),
    ("post", "/v1/users"), ("get", "/v1/users"), ("get", "/v1/users/{user_id}"),
    ("post", "/v1/users/{user_id}/role"), ("post", "/v1/users/{user_id}/disable"), ("post", "/v1/tokens"),
    ("get", "/v1/tokens"), ("delete", "/v1/tokens/{token_id}"), ("post", "/v1/clusters"), ("get", "/v1/clusters"),
    ("get", "/v1/clusters/{name}"), ("post", "/v1/clusters/{name}/nodes/{node}/{action}"), ("get", "/v1/nodes"),
    ("get", "/v1/nodes/{cluster}/{node}"), ("post", "/v1/jobs"), ("get", "/v1/jobs"), ("get", "/v1/jobs/{id}"),
    ("post", "/v1/jobs/{id}/cancel"), ("get", "/v1/jobs/{id}/events"), ("get", "/v1/jobs/{id}/logs"),
    ("get", "/v1/jobs/{id}/watch"), ("post", "/v1/workflows"), ("get", "/v1/workflows"),
    ("get", "/v1/workflows/{id}"), ("post", "/v1/workflows/{id}/cancel"), ("get", "/v1/workflows/{id}/events"),
    ("get", "/v1/workflows/{id}/watch"), ("post", "/v1/allocation/dry-run"), ("get", "/v1/usage"),
    ("get", "/v1/audit/{kind}/{id}"), ("get", "/healthz"),
}


def test_healthz_needs_no_token_and_reports_the_read_position(api):
    r = httpx.get(f"{api.stack.url}/healthz")
    assert r.status_code == 200 and r.json()["status"] == "ok" and r.json()["position"] > 0


def test_the_openapi_document_describes_every_route_and_its_errors(api):
    doc = httpx.get(f"{api.stack.url}/openapi.json").json()
    found = {(method, path) for path, ops in doc["paths"].items() for method in ops}
    assert ROUTES <= found
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            assert op.get("summary") and op.get("tags"), (method, path)
            for status, response in op["responses"].items():
                if status.startswith(("4", "5")):
                    ref = response["content"]["application/json"]["schema"]["$ref"]
                    assert ref.endswith("/ErrorBody"), (method, path, status)
    body = doc["paths"]["/v1/jobs"]["post"]["requestBody"]["content"]
    assert set(body) == {"application/json", "application/yaml"}
    assert "JobSpec" in doc["components"]["schemas"] and "WorkflowSpec" in doc["components"]["schemas"]
    assert "bearer" in str(doc["components"]["securitySchemes"]).lower()


def test_the_docs_page_renders(api):
    r = httpx.get(f"{api.stack.url}/docs")
    assert r.status_code == 200 and "swagger" in r.text.lower()


def test_unknown_routes_and_methods_answer_json_errors(api):
    missing = api.admin.get("/v1/nothing-here")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    wrong = api.admin.delete("/v1/jobs")
    assert wrong.status_code == 405 and wrong.json()["error"]["code"] == "method_not_allowed"


def test_usage_without_clickhouse_says_so(api):
    r = api.admin.get("/v1/usage")
    assert r.status_code == 503 and r.json()["error"]["code"] == "usage_unavailable"


def test_a_bad_usage_query_is_invalid_before_anything_else(api):
    r = api.admin.get("/v1/usage", params={"group_by": "colour"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "group_by"
    r = api.admin.get("/v1/usage", params={"from": "2026-03-02T00:00:00Z", "to": "2026-03-01T00:00:00Z"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "to"
