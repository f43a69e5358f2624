"""ClickHouse-backed reads under `?as_of=N` (issue 6 item 4): the past, exactly, or a 409 naming the command.

Real stack (nats-server, control plane, gateway over HTTP) and real chdb with the live ClickHouse
projection. A ledger: the live answers of /v1/usage and /v1/audit are recorded when the log ends at
event N; more work follows (a second job, a cordon); then the same reads with `as_of=N` must give the
recorded answers, first from the live tables filtered at N, then from the database `tessera replay
--until-seq N` builds. Reads of USAGE-derived tables (inference usage, the invoice preview) cannot be
answered exactly from the live tables: 409, field `as_of`, naming the command; after the replay they
answer from its usage tables (the USAGE records stored by the time event N was).
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from bus.direct import get_seq, last_for
from gateway.http import asof
from gateway.http.asof_clickhouse import Source, covers, source, tracked
from projections.timetravel import parse_as_of
from tests.e2e.conftest import CLUSTER, Api, clickhouse_stack, eventually, job_spec
from tests.e2e.test_api_audit import audit
from tests.e2e.test_api_usage import run_to_the_end

GROUPS = ("job", "tenant", "gpu_model", "day")


@pytest.fixture(scope="module")
def ch_api(tmp_path_factory):
    home = tmp_path_factory.mktemp("asof-home")  # `tessera replay` (TESSERA_HOME=home) finds the same chdb
    with clickhouse_stack(home, "asof-ch") as (api, ch):
        api.home, api.ch = home, ch
        yield api


def settled(api: Api) -> int:
    """The last event's sequence, once the gateway and the live ClickHouse projection have it."""
    stack = api.stack

    def done() -> int | None:
        last = stack.call(last_for(stack.bus.nc, "EVT", "evt.>")).seq
        stored = stack.call(covers(stack.bus.nc, tracked(api.ch, "tessera"), last))
        return last if stored and stack.primary.runner.position() >= last else None

    return eventually(done, timeout=20)


def usage(client, group_by: str, **params) -> list[dict]:
    r = client.get("/v1/usage", params={"group_by": group_by, **params})
    assert r.status_code == 200, r.text
    return r.json()["items"]


def run_job(api: Api, client, name: str, gpus: int) -> str:
    id = client.post("/v1/jobs", json=job_spec(name, gpus=gpus)).json()["id"]
    eventually(lambda: client.get(f"/v1/jobs/{id}").json()["status"] == "placed")
    run_to_the_end(api.stack, "acme", id)
    eventually(lambda: client.get(f"/v1/jobs/{id}").json()["status"] == "succeeded")
    return id


@pytest.fixture(scope="module")
def ledger(ch_api):
    """N and the live answers at N; then a second job and a cordon happen after N."""
    api = ch_api
    assert api.admin.post("/v1/clusters", json=CLUSTER).status_code == 202
    ann = api.user("acme", "ann", "member")
    first = run_job(api, ann, "first", 1)
    n = settled(api)
    at_n = {"usage": {g: usage(api.admin, g) for g in GROUPS}, "audit": audit(api.admin),
            "trail": api.admin.get("/v1/audit/node/c1--n0").json()["items"]}
    assert settled(api) == n  # nothing happened while the answers were read
    second = run_job(api, ann, "second", 2)
    assert api.admin.post("/v1/clusters/c1/nodes/n0/cordon", json={"reason": "later"}).status_code == 202
    settled(api)
    assert len(usage(api.admin, "job")) == 2 and [i["key"] for i in at_n["usage"]["job"]] == [first]
    return {"n": n, "at_n": at_n, "ann": ann, "jobs": (first, second)}


def chosen(api: Api, n: int, tables: tuple[str, ...], live_exact: bool) -> Source:
    async def pick() -> Source:
        token = asof._seq.set(n)
        try:
            return await source(api.stack.primary.services, tables=tables, live_exact=live_exact, what="test",
                                code="usage_unavailable")
        finally:
            asof._seq.reset(token)

    return api.stack.call(pick())


def assert_past_answers(api: Api, ledger: dict) -> None:
    n, at_n = ledger["n"], ledger["at_n"]
    for group in GROUPS:
        assert usage(api.admin, group, as_of=n) == at_n["usage"][group], group
    assert audit(api.admin, as_of=n) == at_n["audit"]
    past = api.admin.get("/v1/audit", params={"as_of": n, "type": "job_submitted"})
    assert [e["aggregate_id"] for e in past.json()["items"]] == [ledger["jobs"][0]]
    assert past.headers["x-tessera-as-of"] == str(n)
    mine = ledger["ann"].get("/v1/usage", params={"group_by": "job", "as_of": n})
    assert [i["key"] for i in mine.json()["items"]] == [ledger["jobs"][0]]


def test_without_an_as_of_database_usage_and_audit_answer_from_the_live_tables_cut_at_n(ch_api, ledger):
    n = ledger["n"]
    assert chosen(ch_api, n, ("audit_events",), True) == Source("tessera", n)
    assert len(audit(ch_api.admin)) > len(ledger["at_n"]["audit"])  # the present has more
    assert_past_answers(ch_api, ledger)


def test_an_objects_trail_as_of_n_ends_at_n(ch_api, ledger):
    n, at_n = ledger["n"], ledger["at_n"]
    now = ch_api.admin.get("/v1/audit/node/c1--n0").json()["items"]
    assert any(e["type"].endswith("node_cordoned.v1") for e in now)
    past = ch_api.admin.get("/v1/audit/node/c1--n0", params={"as_of": n})
    assert past.status_code == 200 and past.json()["items"] == at_n["trail"]


def inference_refused(api: Api, n: int, needle: str) -> None:
    for path, params in (("/v1/usage/inference", {}), ("/v1/usage/preview", {"tenant": "acme"})):
        r = api.admin.get(path, params={**params, "as_of": n})
        assert r.status_code == 409, (path, r.text)
        error = r.json()["error"]
        assert error["field"] == "as_of" and error["code"] == "as_of_unavailable"
        assert f"tessera replay --until-seq {n}" in error["message"] and needle in error["message"], error


def cli(api: Api, *args: str, **env: str):
    from gateway.cli import app

    base = {"TESSERA_URL": api.stack.url, "TESSERA_TOKEN": api.stack.admin_token, "TESSERA_HOME": str(api.home),
            "TESSERA_NATS_URL": api.stack.nats_url, "COLUMNS": "250"}
    return CliRunner().invoke(app, list(args), env={**base, **env})


def test_usage_derived_reads_as_of_n_are_refused_with_the_command_that_builds_them(ch_api, ledger):
    n = ledger["n"]
    inference_refused(ch_api, n, "is not built")
    run = cli(ch_api, "--as-of", str(n), "usage", "--inference")
    assert run.exit_code == 1 and f"tessera replay --until-seq {n}" in run.stderr and "(field: as_of)" in run.stderr
    assert "Traceback" not in run.output


def test_after_tessera_replay_until_seq_n_reads_come_from_the_as_of_database(ch_api, ledger):
    n = ledger["n"]
    run = cli(ch_api, "replay", "--until-seq", str(n), "-o", "json")
    assert run.exit_code == 0, run.output
    assert json.loads(run.stdout)["hashes"][f"clickhouse:tessera_asof_{n}"][0] == n
    for tables in (("audit_events",), ("gpu_usage_hourly",)):
        assert chosen(ch_api, n, tables, True) == Source(f"tessera_asof_{n}", None)
    assert_past_answers(ch_api, ledger)
    usage_cli = cli(ch_api, "--as-of", str(n), "usage", "--by", "job", "-o", "json")
    assert usage_cli.exit_code == 0, usage_cli.output
    assert json.loads(usage_cli.stdout)["items"] == ledger["at_n"]["usage"]["job"]
    audit_cli = cli(ch_api, "--as-of", str(n), "audit", "--type", "job_submitted", "-o", "json")
    assert [e["aggregate_id"] for e in json.loads(audit_cli.stdout)["items"]] == [ledger["jobs"][0]]
    # and the USAGE tables: the records stored by the time event N was, counted here from the streams' clocks
    stamp = ch_api.stack.call(get_seq(ch_api.stack.bus.nc, "EVT", n)).headers["Nats-Time-Stamp"]
    usage_msgs = [ch_api.stack.call(get_seq(ch_api.stack.bus.nc, "USAGE", i)) for i in (1, 2)]
    stored_by_n = sum(parse_as_of(m.headers["Nats-Time-Stamp"]) <= parse_as_of(stamp) for m in usage_msgs)
    position, digest = json.loads(run.stdout)["hashes"][f"clickhouse:tessera_asof_{n}:usage"]
    assert position == stored_by_n and f"rated_usage:{stored_by_n}:" in digest
    assert chosen(ch_api, n, ("rated_usage_daily",), False) == Source(f"tessera_asof_{n}", None)
    preview = ch_api.admin.get("/v1/usage/preview", params={"tenant": "acme", "as_of": n})
    assert preview.status_code == 200 and sum(line["records"] for line in preview.json()["lines"]) == stored_by_n
    inference = ch_api.admin.get("/v1/usage/inference", params={"as_of": n})
    assert inference.status_code == 200 and inference.json()["items"] == [], inference.text
