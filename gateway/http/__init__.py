"""The HTTP gateway: FastAPI over the read models, commands onto the bus.

    settings.py   GatewaySettings ([gateway] in tessera.toml, TESSERA_GATEWAY_*)
    runtime.py    GatewayRuntime(bus, settings): read side + app + uvicorn in the running loop
    app.py        create_app(services): routers, error handlers, middlewares, OpenAPI
    services.py   Services: every dependency a route uses, passed in explicitly
    auth.py       bearer token -> Principal, role checks, tenant scope (Caller)
    limits.py     rate limits (429 + Retry-After), body size (413)
    errors.py     every error answer, mapped to HTTP in this one place
    commands.py   send a command, wait for its outcome (outcomes.py), answer 202
    idempotency.py  Idempotency-Key -> derived ids; same key, other body -> 409
    bodies.py     JSON/YAML spec uploads
    events.py     an object's events from EVT (history, live); sse.py: event streams
    logs.py       a job's log lines (LOG); fleet.py: allocation dry-runs; usage.py: ClickHouse usage
    models.py     request/response bodies; views.py: read-model views -> responses
    routers/      one router per resource
"""

from gateway.http.app import create_app
from gateway.http.runtime import GatewayRuntime
from gateway.http.settings import GatewaySettings

__all__ = ["GatewayRuntime", "GatewaySettings", "create_app"]
