"""`create_app(services)`: the FastAPI application, built from its dependencies (nothing global).

One router per resource (routers/), errors mapped to HTTP in one place
(errors.install), and two middlewares around everything: the access log
(outermost: it sees 413 and 429 too) and the guard (authentication once per
request, rate limits, body size: limits.py). `/openapi.json` documents every
route, its error answers and the spec bodies (JSON or YAML); `/docs` renders it.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from gateway.http import bodies, errors
from gateway.http.access import AccessLog
from gateway.http.auth import authenticator
from gateway.http.limits import Guard, TokenBuckets
from gateway.http.routers import (
    allocation,
    audit,
    budget,
    clusters,
    credits,
    deployments,
    inference_usage,
    invoices,
    jobs,
    keys,
    meta,
    nodes,
    ratecards,
    tenants,
    tokens,
    usage,
    users,
    workflows,
)
from gateway.http.services import Services

DESCRIPTION = """The Tessera control plane's HTTP API.

Authenticate with `Authorization: Bearer tsk_...`. Commands answer `202 {id, status, link}` once this
gateway's read models show their effect (or `status: "pending"` after a timeout); `Idempotency-Key`
makes a retry return the first answer. Errors are `{"error": {"code", "message", "field"}}`.
Lists are paged: `?page_size=` (max 500) and `?cursor=`; answers carry `next_cursor`.
A query parameter a route does not document, or a single-valued one given twice, answers 422.
"""
TAGS = ["meta", "tenants", "users", "tokens", "clusters", "nodes", "jobs", "workflows", "allocation", "usage",
        "audit", "deployments", "keys", "invoices", "ratecards", "billing"]


def create_app(services: Services, *, position=lambda: 0) -> FastAPI:
    app = FastAPI(title="Tessera", version="1.0", description=DESCRIPTION,
                  openapi_tags=[{"name": t} for t in TAGS])
    errors.install(app)
    app.include_router(meta.router(services, position))
    for module in (tenants, users, tokens, clusters, nodes, jobs, workflows, allocation, usage, audit, invoices,
                   deployments, keys, inference_usage, ratecards, budget, credits):
        app.include_router(module.router(services))
    settings = services.settings
    app.add_middleware(Guard, authenticate=authenticator(services.identity, services.clock),
                       tokens=TokenBuckets(settings.rate, settings.burst),
                       anonymous=TokenBuckets(settings.anon_rate, settings.anon_burst),
                       max_body_bytes=settings.max_body_bytes)
    if settings.access_log:
        app.add_middleware(AccessLog)

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description,
                                 routes=app.routes, tags=app.openapi_tags)
            known = schema.setdefault("components", {}).setdefault("schemas", {})
            for name, sub in bodies.extra_components().items():
                known.setdefault(name, sub)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
