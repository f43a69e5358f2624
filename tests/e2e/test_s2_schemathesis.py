"""RELIABILITY S2: schemathesis over the running stack's `/openapi.json`, authenticated, every operation.

Each operation gets valid and invalid (negative) inputs, called over real
HTTP against the stack (nats-server + control plane + gateway), twice: as a
throwaway platform admin (everything is allowed: the deepest paths run) and
as a member (the role checks answer). Checks: no 5xx, every status and
Content-Type documented, bodies match their documented schemas (headers too),
invalid input is refused with a 4xx, an operation that needs auth refuses a
call without it, a missing required header is refused, an undocumented method
answers 405 with a correct `Allow`, and ours: every 4xx/5xx is `{"error": {"code", "message",
"field"}}` JSON.

The stack runs the USAGE projection (rate cards from EVT, usage records from
USAGE into chdb) as `tessera up` does, so `/v1/usage/preview` answers from
its real rollup tables; one GPU usage record of the member's tenant
(`fuzzco`) is priced by a published rate card.

`POST /v1/clusters?dry_run=true` answers an invalid spec with 200 and its
problems (documented), so the negative-data check is not applied to it; nor
to a case whose negated query value is not a string (it serializes to a valid
string on the wire, see `query_made_valid_on_the_wire`).

Guard: the fuzzers' own credentials are never the target. A case whose path
names a fuzzing user (role, disable) or a fuzzing token (revoke) is skipped;
random ids reach them with negligible probability, but a skip makes it none.
Bounded: `MAX_EXAMPLES` per operation and mode, no shrinking beyond the
default on failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import UTC, datetime

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    allow_header_conformance,
    content_type_conformance,
    ignored_auth,
    missing_required_header,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from adapters.clickhouse import client as clickhouse_client
from bus import subjects
from bus.publish import OutMsg, Publisher
from bus.server import ServerProcess
from domains.identity.tokens import parse
from projections.clickhouse import ClickHouseSink
from projections.usage.service import UsageProjection
from schemas import Envelope, encode
from tests.e2e.conftest import Stack, eventually
from tests.factories.usage import card, gpu

MAX_EXAMPLES = 10
FUZZERS = {"admin": ("_platform", "fuzz-admin", "platform-admin"), "member": ("fuzzco", "fuzz-member", "member")}


@schemathesis.check
def error_shape(ctx, response, case) -> bool | None:
    """Every 4xx/5xx is JSON `{"error": {"code": str, "message": str, "field": str|null}}`."""
    if response.status_code < 400:
        return None
    assert response.headers.get("content-type", [""])[0].startswith("application/json"), \
        f"{response.status_code} answered with Content-Type {response.headers.get('content-type')}"
    body = json.loads(response.content)
    error = body.get("error") if isinstance(body, dict) else None
    assert isinstance(error, dict), f"{response.status_code} body has no 'error' object: {body!r}"
    assert isinstance(error.get("code"), str) and error["code"], f"no error code: {body!r}"
    assert isinstance(error.get("message"), str) and error["message"], f"no error message: {body!r}"
    assert "field" in error and (error["field"] is None or isinstance(error["field"], str)), \
        f"no error field: {body!r}"
    return None


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance, negative_data_rejection, ignored_auth, missing_required_header,
          unsupported_method, allow_header_conformance, error_shape]


USAGE_START = datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)  # this month


async def seed_usage(nc) -> None:
    """A rate card (EVT, platform) and one hour of H100 for fuzzco (USAGE), as the control plane writes them."""
    published = card(1)
    env = Envelope(specversion="1.0", id="s2-card-1", source="/tests", type=published.TYPE, time=USAGE_START,
                   tenant="_platform", actor="tests", correlationid="s2", data=published, aggregate="ratecard",
                   aggregateid="default", version=1)
    await Publisher(nc).publish(OutMsg(subjects.subject_for(env), encode(env), env.id))
    record = gpu("s2-g1", tenant="fuzzco", seconds="3600", start=USAGE_START)
    env = Envelope(specversion="1.0", id=record.record_id, source="/tests", type=record.TYPE, time=record.end,
                   tenant="fuzzco", actor="tests", correlationid="s2", data=record, aggregate="usage",
                   aggregateid=record.record_id, version=1)
    await Publisher(nc, stream="USAGE").publish(OutMsg(subjects.usage_subject("fuzzco", "gpu"), encode(env), env.id))


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """The e2e stack with a ClickHouse (chdb) and the USAGE projection, so /v1/usage* are fuzzed for real."""
    server = ServerProcess(store_dir=tmp_path_factory.mktemp("s2-nats") / "store", name="s2").start()
    ch = clickhouse_client(tmp_path_factory.mktemp("s2-ch") / "clickhouse")
    ClickHouseSink(ch, database="tessera").setup()
    running = Stack(server.url, clickhouse=ch).start()
    usage, stop = UsageProjection(running.bus.nc, ch, batch_size=100), asyncio.Event()
    running.call(seed_usage(running.bus.nc))
    running.call(usage.catch_up())  # its tables exist before the first request
    projecting = asyncio.run_coroutine_threadsafe(usage.run(stop), running.loop)
    yield running
    running.loop.call_soon_threadsafe(stop.set)
    with contextlib.suppress(Exception):
        projecting.result(10)
    running.stop()
    ch.close()
    server.stop()


@pytest.fixture(scope="module")
def fuzzers(api) -> dict[str, dict]:
    """A throwaway platform admin and a member, each with its own token: {who: {token, user, token_id}}."""
    out = {}
    for who, (tenant, user, role) in FUZZERS.items():
        if tenant != "_platform":
            api.tenant(tenant)
        headers = {"X-Tessera-Tenant": tenant}
        r = api.admin.post("/v1/users", json={"user_id": user, "name": user, "role": role}, headers=headers)
        assert r.status_code == 202, r.text
        r = api.admin.post("/v1/tokens", json={"name": "fuzz", "user_id": user}, headers=headers)
        assert r.status_code == 201, r.text
        token = r.json()["token"]
        out[who] = {"token": token, "user": user, "token_id": parse(token)[0]}
    return out


@pytest.fixture(scope="module")
def api_schema(stack, fleet, fuzzers):
    return schemathesis.openapi.from_url(f"{stack.url}/openapi.json")


def protected(case, fuzzers) -> bool:
    """The case would revoke a fuzzer's token or change a fuzzer's user (its own credentials)."""
    params = case.path_parameters or {}
    users = {f["user"] for f in fuzzers.values()}
    tokens = {f["token_id"] for f in fuzzers.values()}
    return params.get("user_id") in users or params.get("token_id") in tokens


def validates_only(case) -> bool:
    """A cluster dry run: it answers invalid specs with 200 and their problems, by contract."""
    return case.operation.path == "/v1/clusters" and str((case.query or {}).get("dry_run")).lower() in ("true", "1")


FUZZ = settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
                phases=[Phase.explicit, Phase.generate, Phase.shrink], database=None, derandomize=True)


def query_made_valid_on_the_wire(case) -> bool:
    """A negated query value that is not a string (true, 3, null, an object) reaches the server as the
    string it serializes to (`tenant=true`, `cursor=`), which the schema allows: the request schemathesis
    calls invalid is valid as sent, and accepting it is right (seen in CI: `?tenant=true`, `?cursor=`)."""
    return any(not isinstance(v, str) and not (isinstance(v, list) and all(isinstance(x, str) for x in v))
               for v in (case.query or {}).values())


def fuzz(api_schema, fuzzers, who: str) -> list[str]:
    """Every operation x (positive, negative) inputs; the failures found, one line per operation and mode."""
    headers = {"Authorization": f"Bearer {fuzzers[who]['token']}"}
    failures, operations = [], 0
    for result in api_schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            @FUZZ
            @given(case=operation.as_strategy(generation_mode=mode))
            def check(case) -> None:
                if protected(case, fuzzers):
                    return
                checks = CHECKS
                if validates_only(case) or query_made_valid_on_the_wire(case):
                    checks = [c for c in CHECKS if c is not negative_data_rejection]
                case.call_and_validate(headers=headers, checks=checks, timeout=15)

            try:
                check()
            except Unsatisfiable:  # nothing to negate (e.g. /healthz takes no input)
                assert mode is GenerationMode.NEGATIVE, operation.label
            except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - report every operation's failures
                failures.append(f"{operation.label} [{mode.value}]: {type(exc).__name__}: {exc}"[:3000])
    assert operations >= 25, "the OpenAPI document lost its operations"
    return failures


@pytest.mark.slow  # ~25 s per caller on a shared 2-core machine
@pytest.mark.parametrize("who", sorted(FUZZERS))
def test_the_api_survives_schemathesis(api_schema, fuzzers, who):
    failures = fuzz(api_schema, fuzzers, who)
    assert not failures, f"{len(failures)} operation(s) failed:\n" + "\n\n".join(failures)


def test_what_the_fuzzing_found_stays_fixed(api, fuzzers):
    """Regressions from S2 runs: ignored or repeated query parameters, and a period ClickHouse cannot hold."""
    member = api.stack.client(fuzzers["member"]["token"])
    typo = member.get("/v1/jobs", params={"statu": "running"})
    assert typo.status_code == 422 and typo.json()["error"]["field"] == "statu"
    twice = member.get("/v1/workflows?status=running&status=failed")
    assert twice.status_code == 422 and twice.json()["error"]["field"] == "status"
    assert member.get("/v1/tenants/fuzzco", params={"page_size": 5}).status_code == 422  # not a list
    ancient = member.get("/v1/usage", params={"from": "0530-10-24T01:34:19-20:29"})
    assert ancient.status_code == 422 and ancient.json()["error"]["field"] == "from"
    assert member.get("/v1/usage", params={"from": "2026-01-01T00:00:00Z"}).status_code == 200
    anonymous = api.stack.client().get("/v1/jobs", params={"statu": "x"})
    assert anonymous.status_code == 401  # who you are comes first; the route's details after
    assert member.get("/v1/jobs", params={"cursor": ""}).status_code == 422  # an empty cursor is no cursor
    coerced = member.post("/v1/keys", json={"name": "k", "tpm": True})  # JSON true is not the number 1
    assert coerced.status_code == 422 and coerced.json()["error"]["field"] == "tpm"


def test_the_usage_preview_prices_the_tenants_usage_from_the_usage_projection(api, fuzzers):
    member = api.stack.client(fuzzers["member"]["token"])
    got = eventually(lambda: (r := member.get("/v1/usage/preview")).status_code == 200 and r.json()["lines"] and r)
    assert [(x["kind"], x["item"], x["quantity"], x["amount"]) for x in got.json()["lines"]] == [
        ("gpu", "H100", "3600", "2.50")]
    assert got.json()["subtotal"] == {"USD": "2.50"}
    other = api.stack.client(api.stack.admin_token).get("/v1/usage/preview", params={"tenant": "nobody"})
    assert other.status_code == 200 and other.json()["lines"] == []  # no usage: an empty draft, not a 503
