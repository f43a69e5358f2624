"""RELIABILITY S1: tenant isolation over every route that takes an id, against the running stack.

Two tenants (`s1a`, `s1b`), each with a tenant-admin, a member and a viewer
created through the API, and objects of every kind in each (a job, a
workflow, a target user, a target token, a deployment, an API key, an invoice); the fleet (`c1`) is
platform-owned. Invoices are written by the billing consumer, not by a command: each tenant's draft
invoice is published on EVT as that consumer writes it (opened, a line, accrued usage), each tenant
for its own period so the ids differ (an invoice id is `inv-<period>`, unique within a tenant only).
The matrix is every (method, path) of `/openapi.json` with a path parameter
(a route missing from `ID_ROUTES` fails the coverage test, so a new route
cannot escape) x id class x caller role:

- own: the caller's tenant's object: what the role allows (200/202/409) or 403;
- foreign: the other tenant's object: never 2xx; byte-identical to random;
- random: an id of the foreign id's exact shape that exists nowhere;
- named: the foreign id with the foreign tenant named (`?tenant=` /
  `X-Tessera-Tenant`): 403 for every non-platform role.
Foreign and random answers must match in status, headers (but `date`) and
body, the requested id being the only difference. Platform objects (clusters,
nodes) have existing/random ids: every role reads them, only platform admins
write them. Afterwards the platform admin reads the foreign tenant back: no
object changed state and no event was added. List routes never show another
tenant's items, and role limits hold on every write route without an id.
"""

from __future__ import annotations

import random
import string
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest

from bus import subjects
from bus.publish import OutMsg, Publisher
from domains.billing.periods import invoice_id, period_of
from domains.identity.permissions import allowed
from schemas import Envelope, encode
from schemas import billing as b
from schemas.metering import Price
from tests.e2e.conftest import eventually, job_spec

TENANTS = ("s1a", "s1b")
INVOICE_AT = {"s1a": datetime(2026, 10, 15, tzinfo=UTC), "s1b": datetime(2026, 11, 15, tzinfo=UTC)}
ROLES = ("viewer", "member", "tenant-admin")  # writers last: the viewer sees the objects untouched
NODE_ACTIONS = ("cordon", "uncordon", "drain")
AUDIT_KINDS = ("cluster", "node", "job", "workflow", "tenant", "user", "token")


@dataclass(frozen=True)
class Route:
    kind: str  # tenant | user | token | job | workflow | cluster | node | audit
    action: str  # the permission it needs (domains.identity.permissions)
    body: dict | None = None
    sse: bool = False

    @property
    def writes(self) -> bool:
        return self.action.endswith(":write")


ID_ROUTES: dict[tuple[str, str], Route] = {
    ("GET", "/v1/tenants/{name}"): Route("tenant", "tenants:read"),
    ("GET", "/v1/users/{user_id}"): Route("user", "users:read"),
    ("POST", "/v1/users/{user_id}/role"): Route("user", "users:write", {"role": "viewer"}),
    ("POST", "/v1/users/{user_id}/disable"): Route("user", "users:write"),
    ("DELETE", "/v1/tokens/{token_id}"): Route("token", "tokens:write"),
    ("GET", "/v1/clusters/{name}"): Route("cluster", "clusters:read"),
    ("POST", "/v1/clusters/{name}/nodes/{node}/{action}"): Route("node", "clusters:write", {"reason": "s1"}),
    ("GET", "/v1/nodes/{cluster}/{node}"): Route("node", "nodes:read"),
    ("GET", "/v1/jobs/{id}"): Route("job", "jobs:read"),
    ("POST", "/v1/jobs/{id}/cancel"): Route("job", "jobs:write", {"reason": "s1"}),
    ("GET", "/v1/jobs/{id}/events"): Route("job", "jobs:read"),
    ("GET", "/v1/jobs/{id}/logs"): Route("job", "jobs:read"),
    ("GET", "/v1/jobs/{id}/watch"): Route("job", "jobs:read", sse=True),
    ("GET", "/v1/workflows/{id}"): Route("workflow", "workflows:read"),
    ("POST", "/v1/workflows/{id}/cancel"): Route("workflow", "workflows:write", {"reason": "s1"}),
    ("GET", "/v1/workflows/{id}/events"): Route("workflow", "workflows:read"),
    ("GET", "/v1/workflows/{id}/watch"): Route("workflow", "workflows:read", sse=True),
    ("GET", "/v1/audit/{kind}/{id}"): Route("audit", "audit:read"),
    ("GET", "/v1/deployments/{id}"): Route("deployment", "deployments:read"),
    ("GET", "/v1/deployments/{id}/events"): Route("deployment", "deployments:read"),
    ("POST", "/v1/deployments/{id}/scale"): Route("deployment", "deployments:write", {"replicas": 2}),
    ("POST", "/v1/deployments/{id}/stop"): Route("deployment", "deployments:write", {"reason": "s1"}),
    ("GET", "/v1/keys/{key_id}"): Route("key", "keys:read"),
    ("POST", "/v1/keys/{key_id}/limits"): Route("key", "keys:write", {"rpm": 100, "tpm": None}),
    ("POST", "/v1/keys/{key_id}/budget"): Route("key", "keys:write", {"budget": "5"}),
    ("DELETE", "/v1/keys/{key_id}"): Route("key", "keys:write"),
    ("GET", "/v1/invoices/{invoice_id}"): Route("invoice", "usage:read"),
    ("GET", "/v1/invoices/{invoice_id}/export"): Route("invoice", "usage:read"),
    # billing administration: platform admins only (no tenant role holds tenants:write); rate cards are public
    ("POST", "/v1/invoices/{invoice_id}/void"): Route("invoice", "tenants:write", {"reason": "s1"}),
    ("DELETE", "/v1/credits/{credit_id}"): Route("credit", "tenants:write"),
    ("GET", "/v1/ratecards/{version}"): Route("ratecard", "usage:read"),
}
# Lists (no id): (path, the key naming an item's tenant or None); write routes without an id: their action.
LIST_ROUTES = {"/v1/tenants": "tenant", "/v1/users": "tenant", "/v1/tokens": "tenant", "/v1/jobs": "tenant",
               "/v1/workflows": "tenant", "/v1/clusters": None, "/v1/nodes": None, "/v1/deployments": "tenant",
               "/v1/keys": "tenant", "/v1/invoices": "tenant", "/v1/credits": "tenant", "/v1/ratecards": None}
# Reads from ClickHouse (this stack has none: 503), or not tenant objects.
OTHER_READS = {"/healthz", "/v1/whoami", "/v1/usage", "/v1/usage/preview", "/v1/usage/inference", "/v1/audit",
               "/v1/budget"}
WRITE_ROUTES = {("POST", "/v1/tenants"): "tenants:write", ("POST", "/v1/users"): "users:write",
                ("POST", "/v1/tokens"): "tokens:write", ("POST", "/v1/clusters"): "clusters:write",
                ("POST", "/v1/jobs"): "jobs:write", ("POST", "/v1/workflows"): "workflows:write",
                ("POST", "/v1/allocation/dry-run"): "allocation:read",
                ("POST", "/v1/deployments"): "deployments:write", ("POST", "/v1/keys"): "keys:write",
                ("POST", "/v1/ratecards"): "tenants:write", ("POST", "/v1/credits"): "tenants:write",  # platform
                ("PUT", "/v1/budget"): "users:write", ("DELETE", "/v1/budget"): "users:write"}  # tenant admins

WORKFLOW = {"name": "s1-flow", "tasks": [{"name": "big", "image": "x", "gpus": 64, "gpu_model": "H100"}]}
RATECARD = {"version": 1, "effective_from": "2020-01-01T00:00:00Z", "gpu_hour": {"H100": "2.50"}}
DEPLOYMENT = {"name": "s1-model", "model": "s1/llm", "gpus": 64, "gpu_model": "H100", "max_replicas": 2}  # never fits


@dataclass
class Tenant:
    name: str
    callers: dict[str, httpx.Client] = field(default_factory=dict)
    user: str = ""  # a target user (member), not a caller
    token: str = ""  # a target token of the member caller (not the one it calls with)
    job: str = ""
    workflow: str = ""
    deployment: str = ""
    key: str = ""  # an API key's id
    invoice: str = ""
    credit: str = ""  # granted by the platform admin

    def ids(self) -> dict[str, str]:
        return {"tenant": self.name, "user": self.user, "token": self.token, "job": self.job,
                "workflow": self.workflow, "deployment": self.deployment, "key": self.key, "invoice": self.invoice,
                "credit": self.credit}


def invoice_events(tenant: str, at: datetime) -> list[OutMsg]:
    """A draft invoice of `tenant` for the month of `at`, as the billing consumer writes it (one GPU line)."""
    period = period_of(at, "monthly")
    inv = invoice_id(period.key)
    line = b.InvoiceLine(line_id="l1", kind="gpu", item="H100", unit="gpu_second", priced_unit="gpu_hour",
                         rate_card_version=1, price=Price(unit_price=Decimal("2.50")), currency="USD")
    events = [b.InvoiceOpened(invoice_id=inv, tenant=tenant, period=period.key, period_start=period.start,
                              period_end=period.end, currency="USD"),
              b.InvoiceLineOpened(invoice_id=inv, line=line),
              b.InvoiceUsageAccrued(invoice_id=inv, usage=[b.AccruedUsage(
                  record_id=f"{tenant}-g1", line_id="l1", quantity=Decimal(3600), at=at, usage_seq=1)])]
    out = []
    for version, data in enumerate(events, 1):
        env = Envelope(specversion="1.0", id=f"s1-{tenant}-{inv}-{version}", source="/tessera/billing",
                       type=data.TYPE, time=at, tenant=tenant, actor="system:billing", correlationid=inv, data=data,
                       aggregate="invoice", aggregateid=inv, version=version)
        out.append(OutMsg(subjects.subject_for(env), encode(env), env.id))
    return out


def shaped_like(value: str, rng: random.Random) -> str:
    """An id of `value`'s exact shape (length, separators, character classes) that exists nowhere."""
    def swap(c: str) -> str:
        if c.isdigit():
            return rng.choice(string.digits)
        if c.islower():
            return rng.choice(string.ascii_lowercase)
        if c.isupper():
            return rng.choice(string.ascii_uppercase)
        return c
    while (drawn := "".join(swap(c) for c in value)) == value:  # short ids can draw themselves
        pass
    return drawn


@pytest.fixture(scope="module")
def world(api, fleet) -> dict[str, Tenant]:
    out: dict[str, Tenant] = {}
    r = api.admin.post("/v1/ratecards", json=RATECARD)
    assert r.status_code == 202, r.text
    for name in TENANTS:
        t = Tenant(name)
        for role in ROLES:
            t.callers[role] = api.user(name, f"{name}-{role}", role)
        admin = t.callers["tenant-admin"]
        t.user = f"{name}-target"
        assert admin.post("/v1/users", json={"user_id": t.user, "name": "Target", "role": "member"}).status_code == 202
        r = t.callers["member"].post("/v1/tokens", json={"name": "target"})
        assert r.status_code == 201, r.text
        t.token = r.json()["id"]
        r = t.callers["member"].post("/v1/jobs", json=job_spec("s1-job", gpus=64))  # never fits: stays queued
        assert r.status_code == 202, r.text
        t.job = r.json()["id"]
        r = t.callers["member"].post("/v1/workflows", json=WORKFLOW)
        assert r.status_code == 202, r.text
        t.workflow = r.json()["id"]
        r = t.callers["member"].post("/v1/deployments", json=DEPLOYMENT)
        assert r.status_code == 202, r.text
        t.deployment = r.json()["id"]
        r = t.callers["member"].post("/v1/keys", json={"name": "s1-key"})
        assert r.status_code == 201, r.text
        t.key = r.json()["id"]
        api.stack.call(Publisher(api.stack.bus.nc).publish_many(invoice_events(name, INVOICE_AT[name])))
        t.invoice = invoice_id(period_of(INVOICE_AT[name], "monthly").key)
        eventually(lambda t=t: t.callers["viewer"].get(f"/v1/invoices/{t.invoice}").status_code == 200)
        t.credit = f"{name}-credit"
        r = api.admin.post("/v1/credits", json={"credit_id": t.credit, "kind": "percent", "percent": "5"},
                           headers={"X-Tessera-Tenant": name})
        assert r.status_code == 202, r.text
        out[name] = t
    for t in out.values():  # settled: nothing moves on its own from here on
        eventually(lambda t=t: api.admin.get(f"/v1/jobs/{t.job}").json()["status"] == "queued")
        eventually(lambda t=t: all(j["status"] == "queued" for j in api.admin.get(
            "/v1/jobs", params={"workflow": t.workflow}).json()["items"]) and api.admin.get(
            "/v1/jobs", params={"workflow": t.workflow}).json()["items"])
    return out


def openapi_routes(api) -> set[tuple[str, str]]:
    doc = api.admin.get("/openapi.json").json()
    return {(method.upper(), path) for path, ops in doc["paths"].items() for method in ops
            if method in ("get", "post", "put", "patch", "delete")}


def test_the_matrix_covers_every_route_that_takes_an_id(api):
    with_ids = {r for r in openapi_routes(api) if "{" in r[1]}
    assert with_ids - ID_ROUTES.keys() == set(), "routes with an id that S1 does not test"
    assert ID_ROUTES.keys() - with_ids == set(), "S1 tests routes the API no longer has"
    without = {r for r in openapi_routes(api) if "{" not in r[1]}
    listed = {("GET", p) for p in LIST_ROUTES.keys() | OTHER_READS} | WRITE_ROUTES.keys()
    assert without - listed == set(), "routes without an id that S1 does not classify"


def targets(route: Route, path: str, ids: dict[str, str]) -> list[tuple[str, str]]:
    """(url, requested id) for a route template and one id class's ids (audit: one per kind)."""
    if route.kind == "audit":
        return [(f"/v1/audit/{kind}/{ids[kind]}", ids[kind]) for kind in AUDIT_KINDS]
    if route.kind in ("cluster", "node"):
        cluster, node = ids["cluster"], ids["node"].split("--")[1]
        if route.kind == "cluster":
            return [(path.format(name=cluster), cluster)]
        if "{action}" in path:
            return [(path.format(name=cluster, node=node, action=a), node) for a in NODE_ACTIONS]
        return [(path.format(cluster=cluster, node=node), node)]
    id = ids[route.kind]
    return [(path.replace(path[path.index("{"):path.index("}") + 1], id), id)]


def send(client: httpx.Client, method: str, url: str, route: Route, *, name_tenant: str | None = None):
    headers, params = {}, {}
    if name_tenant:
        if method == "GET":
            params["tenant"] = name_tenant
        else:
            headers["X-Tessera-Tenant"] = name_tenant
    if route.sse:
        with client.stream(method, url, params=params, headers=headers) as r:
            if r.status_code == 200:  # an open stream: its status and type are the answer
                return r.status_code, dict(r.headers), b""
            return r.status_code, dict(r.headers), r.read()
    r = client.request(method, url, json=route.body, params=params, headers=headers)
    return r.status_code, dict(r.headers), r.content


def expected_own(route: Route, url: str, role: str) -> set[int]:
    if not allowed(role, route.action):
        return {403}
    if route.kind == "audit" and url.startswith("/v1/audit/token/") and role == "viewer":
        return {404}  # a member's token: only its owner and admins see it (as in /v1/tokens)
    if route.writes:
        return {202, 409}  # 409: e.g. cancelling what another role already cancelled
    return {200}


def snapshot(api, t: Tenant) -> dict:
    """Everything the platform admin can read about `t`, once it has settled (cascades of earlier writes)."""
    def settled():
        first = read_all(api, t)
        time.sleep(0.3)
        return first if read_all(api, t) == first else None
    return eventually(settled)


def read_all(api, t: Tenant) -> dict:
    """Everything the platform admin can read about tenant `t`: any change to it shows here."""
    q = {"tenant": t.name, "page_size": 500}
    urls = [f"/v1/tenants/{t.name}", "/v1/users", "/v1/tokens", "/v1/jobs", "/v1/workflows",
            f"/v1/jobs/{t.job}", f"/v1/jobs/{t.job}/events", f"/v1/workflows/{t.workflow}",
            f"/v1/workflows/{t.workflow}/events", f"/v1/audit/tenant/{t.name}", "/v1/nodes", "/v1/clusters",
            "/v1/deployments", f"/v1/deployments/{t.deployment}", f"/v1/deployments/{t.deployment}/events",
            "/v1/keys", f"/v1/keys/{t.key}", "/v1/invoices", f"/v1/invoices/{t.invoice}",
            f"/v1/invoices/{t.invoice}/export", "/v1/credits", "/v1/budget"]
    urls += [f"/v1/audit/user/{u}" for u in [t.user, *(f"{t.name}-{r}" for r in ROLES)]]
    urls += [f"/v1/audit/token/{tok['id']}" for tok in api.admin.get("/v1/tokens", params=q).json()["items"]]
    out = {}
    for url in urls:
        params = {"page_size": 500} if url in LIST_ROUTES else {}
        if LIST_ROUTES.get(url, "tenant") is not None:  # tenant-scoped; clusters and nodes take no tenant
            params["tenant"] = t.name
        r = api.admin.get(url, params=params)
        assert r.status_code == 200, (url, r.text)
        out[url] = r.text if url.endswith("/export") else r.json()  # CSV
    return out


def normal(headers: dict, body: bytes, id: str) -> tuple:
    kept = {k: v for k, v in headers.items() if k.lower() != "date"}
    return kept, body.replace(id.encode(), b"<id>")


@pytest.mark.parametrize("me", TENANTS)
def test_no_cross_tenant_read_or_write_over_every_id_route(api, fleet, world, me):
    own, foreign = world[me], world[next(n for n in TENANTS if n != me)]
    rng = random.Random(f"s1-{me}")
    platform = {"cluster": "c1", "node": "c1--n0", "ratecard": "1"}
    own_ids = own.ids() | platform
    foreign_ids = foreign.ids() | platform
    random_ids = {k: shaped_like(v, rng) for k, v in foreign_ids.items()}
    random_ids["ratecard"] = "99"  # a one-digit shape could draw the published version 1 again
    before = snapshot(api, foreign)
    failures: list[str] = []
    cells = 0
    for role in ROLES:
        client = own.callers[role]
        for (method, path), route in ID_ROUTES.items():
            for (url, _), (f_url, f_id), (r_url, r_id) in zip(targets(route, path, own_ids),
                                                           targets(route, path, foreign_ids),
                                                           targets(route, path, random_ids), strict=True):
                platform_object = url.startswith(("/v1/clusters", "/v1/nodes", "/v1/audit/cluster",
                                                  "/v1/audit/node", "/v1/ratecards"))
                where = f"{role} {method} {url}"
                r_status, r_headers, r_body = send(client, method, r_url, route)
                cells += 1
                if platform_object:  # platform-owned: existing vs random only
                    status, _, body = send(client, method, url, route)
                    cells += 1
                    want = {200} if not route.writes else {403}
                    if status not in want:
                        failures.append(f"{where}: {status} (wanted {want}) {body[:200]!r}")
                    if r_status != (403 if route.writes else 404):
                        failures.append(f"{where} random: {r_status} {r_body[:200]!r}")
                    continue
                f_status, f_headers, f_body = send(client, method, f_url, route)
                n_status, _, n_body = send(client, method, f_url, route, name_tenant=foreign.name)
                status, _, body = send(client, method, url, route)
                cells += 3
                if 200 <= f_status < 300 or 200 <= n_status < 300:
                    failures.append(f"{where}: FOREIGN ACCESS {f_status}/{n_status} {f_body[:200]!r}")
                if (f_status, *normal(f_headers, f_body, f_id)) != (r_status, *normal(r_headers, r_body, r_id)):
                    failures.append(f"{where}: foreign {f_status} {f_body!r} != random {r_status} {r_body!r}")
                if f_status not in (403, 404):
                    failures.append(f"{where}: foreign answered {f_status}")
                if n_status != 403:
                    failures.append(f"{where}: naming tenant {foreign.name} answered {n_status} {n_body[:200]!r}")
                if status not in expected_own(route, url, role):
                    failures.append(f"{where}: own answered {status} (wanted {expected_own(route, url, role)}) "
                                    f"{body[:200]!r}")
    assert not failures, f"{len(failures)} of {cells} cells failed:\n" + "\n".join(failures)
    assert cells >= 4 * len(ID_ROUTES) * len(ROLES)  # the matrix really ran (audit kinds, node actions expand it)
    after = snapshot(api, foreign)
    assert after == before, "the foreign tenant changed"
    print(f"S1 matrix {me}: {len(ID_ROUTES)} id routes, {cells} requests")


def test_own_writes_in_the_matrix_took_effect(api, world):
    """The allowed writes of the matrix were real (the foreign ones were refused, not lost)."""
    for t in world.values():
        assert api.admin.get(f"/v1/jobs/{t.job}").json()["status"] == "cancelled"
        assert api.admin.get(f"/v1/workflows/{t.workflow}").json()["status"] == "cancelled"
        user = api.admin.get(f"/v1/users/{t.user}", params={"tenant": t.name}).json()
        assert user["disabled"] is True and user["role"] == "viewer"
        tokens = api.admin.get("/v1/tokens", params={"tenant": t.name, "page_size": 500}).json()["items"]
        assert next(tok for tok in tokens if tok["id"] == t.token)["revoked"] is True
        assert api.admin.get(f"/v1/deployments/{t.deployment}").json()["status"] == "stopped"
        key = api.admin.get(f"/v1/keys/{t.key}", params={"tenant": t.name}).json()
        assert (key["status"], key["rpm"], key["budget"]) == ("revoked", 100, "5")


def foreign_strings(t: Tenant) -> list[str]:
    return [t.name, t.user, t.token, t.job, t.workflow, t.deployment, t.key, t.invoice, t.credit,
            *(f"{t.name}-{r}" for r in ROLES)]


@pytest.mark.parametrize("me", TENANTS)
def test_lists_never_show_another_tenants_items(api, world, me):
    own, foreign = world[me], world[next(n for n in TENANTS if n != me)]
    for role, client in own.callers.items():
        for path, key in LIST_ROUTES.items():
            r = client.get(path, params={"page_size": 500})
            assert r.status_code == 200, (role, path, r.text)
            items = r.json()["items"]
            if key is not None:
                assert all(item[key] == own.name for item in items), (role, path)
            for secret in foreign_strings(foreign):
                assert secret not in r.text, (role, path, secret)
            if key is not None:
                named = client.get(path, params={"tenant": foreign.name})
                assert named.status_code == 403 and named.json()["error"]["field"] == "tenant", (role, path)
        assert client.get("/v1/jobs", params={"page_size": 500}).json()["items"]  # own items are there
        assert [i["id"] for i in client.get("/v1/invoices").json()["items"]] == [own.invoice]


def test_role_limits_on_every_write(api, world, fleet):
    """viewer cannot write, member cannot manage users, tenant-admin cannot onboard clusters or tenants."""
    bodies = {"/v1/tenants": {"tenant": "s1-new", "display_name": "x"},
              "/v1/users": {"user_id": "s1-new", "name": "x", "role": "viewer"},
              "/v1/tokens": {"name": "x"}, "/v1/clusters": {**fleet, "name": "s1-cluster"},
              "/v1/jobs": job_spec("s1-role", gpus=64), "/v1/workflows": WORKFLOW,
              "/v1/allocation/dry-run": job_spec("s1-probe"), "/v1/deployments": {**DEPLOYMENT, "name": "s1-role"},
              "/v1/keys": {"name": "s1-role"}, "/v1/ratecards": {**RATECARD, "version": 2},
              "/v1/credits": {"kind": "amount", "amount": "1"}, "/v1/budget": {"amount": "100", "mode": "soft"}}
    t = world["s1a"]
    for role, client in t.callers.items():
        for (method, path), action in WRITE_ROUTES.items():
            r = client.request(method, path, json=bodies[path])
            if allowed(role, action):
                assert r.status_code in (200, 201, 202), (role, path, r.text)
            else:
                assert r.status_code == 403, (role, path, r.text)
                assert r.json()["error"]["code"] == "forbidden"
    assert t.callers["viewer"].post(f"/v1/jobs/{t.job}/cancel").status_code == 403
    assert t.callers["member"].post("/v1/users/s1a-viewer/role", json={"role": "tenant-admin"}).status_code == 403
    assert t.callers["tenant-admin"].post("/v1/clusters/c1/nodes/n0/cordon").status_code == 403
    assert api.admin.get("/v1/clusters/s1-cluster").status_code == 404
    assert api.admin.get("/v1/tenants/s1-new").status_code == 404
