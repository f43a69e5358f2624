"""/v1/invoices and /v1/usage/preview over HTTP: the billing read model and the USAGE projection in real chdb."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from adapters.clickhouse import client as clickhouse_client
from bus import subjects
from bus.publish import OutMsg, Publisher
from bus.server import ServerProcess
from projections.usage.service import UsageProjection
from schemas import Envelope, encode
from schemas import billing as b
from schemas.metering import Price
from tests.e2e.conftest import Api, Stack, eventually
from tests.factories.usage import T0, card, envelope, gpu, request

TESSERA = str(Path(sys.executable).with_name("tessera"))

NOV_START, DEC_START = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)


def evt(tenant: str, aggregate: str, aggregate_id: str, version: int, data) -> OutMsg:
    env = Envelope(specversion="1.0", id=f"{aggregate_id}-{version}", source="/tests", type=data.TYPE, time=T0,
                   tenant=tenant, actor="tests", correlationid="c", data=data, aggregate=aggregate,
                   aggregateid=aggregate_id, version=version)
    return OutMsg(subjects.subject_for(env), encode(env), env.id)


def invoice_events() -> list[OutMsg]:
    line = b.InvoiceLine(line_id="l1", kind="gpu", item="H100", unit="gpu_second", priced_unit="gpu_hour",
                         rate_card_version=1, price=Price(unit_price=Decimal("2.50")), currency="USD")
    return [
        evt("acme", "invoice", "inv-2026-11", 1, b.InvoiceOpened(
            invoice_id="inv-2026-11", tenant="acme", period="2026-11", period_start=NOV_START,
            period_end=DEC_START, currency="USD")),
        evt("acme", "invoice", "inv-2026-11", 2, b.InvoiceLineOpened(invoice_id="inv-2026-11", line=line)),
        evt("acme", "invoice", "inv-2026-11", 3, b.InvoiceUsageAccrued(invoice_id="inv-2026-11", usage=[
            b.AccruedUsage(record_id="g1", line_id="l1", quantity=Decimal(5400), at=T0, usage_seq=1)])),
    ]


@pytest.fixture(scope="module")
def billing_api(tmp_path_factory):
    server = ServerProcess(store_dir=tmp_path_factory.mktemp("inv-nats") / "store", name="inv").start()
    ch = clickhouse_client(tmp_path_factory.mktemp("inv-ch") / "clickhouse")
    stack = Stack(server.url, clickhouse=ch).start()
    stop = asyncio.Event()

    async def project() -> None:
        nc = stack.bus.nc
        await Publisher(nc).publish(evt("_platform", "ratecard", "default", 1, card(1)))
        await Publisher(nc).publish_many(invoice_events())
        usage = [gpu("g1", seconds="5400"), request("r1", prompt=1000, completion=500),
                 gpu("g9", tenant="globex")]
        await Publisher(nc, stream="USAGE").publish_many(
            [OutMsg(subjects.usage_subject(r.tenant, "x"), encode(envelope(r)), f"u{i}") for i, r in enumerate(usage)])
        await UsageProjection(nc, ch, batch_size=10).run(stop)  # the gateway's own runtime folds invoices, cards

    projecting = asyncio.run_coroutine_threadsafe(project(), stack.loop)
    admin = stack.client(stack.admin_token)
    api = Api(stack, admin)
    yield api
    stack.loop.call_soon_threadsafe(stop.set)
    with contextlib.suppress(Exception):
        projecting.result(10)
    admin.close()
    stack.stop()
    ch.close()
    server.stop()


@pytest.fixture(scope="module")
def acme(billing_api):
    client = billing_api.user("acme", "ann", "viewer")
    eventually(lambda: client.get("/v1/invoices").json().get("items"))
    return client


def test_a_tenant_lists_its_invoices_and_reads_one_with_its_lines(acme):
    (item,) = acme.get("/v1/invoices").json()["items"]
    assert (item["id"], item["status"], item["period"], item["total"]) == ("inv-2026-11", "draft", "2026-11", "3.75")
    got = acme.get("/v1/invoices/inv-2026-11").json()
    assert [(x["line"]["kind"], x["line"]["item"], x["quantity"], x["amount"]) for x in got["lines"]] == [
        ("gpu", "H100", "5400", "3.75")]
    assert acme.get("/v1/invoices", params={"status": "finalized"}).json()["items"] == []


def test_an_invoice_exports_as_csv_and_json(acme):
    r = acme.get("/v1/invoices/inv-2026-11/export", params={"format": "csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [(x["row"], x["item"], x["amount"]) for x in rows] == [("line", "H100", "3.75"), ("subtotal", "", "3.75"),
                                                                   ("total", "", "3.75")]
    assert acme.get("/v1/invoices/inv-2026-11", params={"format": "csv"}).text == r.text
    j = acme.get("/v1/invoices/inv-2026-11/export", params={"format": "json"})
    assert j.status_code == 200 and j.json()["total"] == "3.75" and "attachment" in j.headers["content-disposition"]
    bad = acme.get("/v1/invoices/inv-2026-11/export", params={"format": "xml"})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "format"


def test_another_tenants_invoice_is_not_found_and_admins_must_name_a_tenant(billing_api, acme):
    globex = billing_api.user("globex", "gil", "tenant-admin")
    missing = globex.get("/v1/invoices/inv-does-not-exist")
    foreign = globex.get("/v1/invoices/inv-2026-11")
    assert foreign.status_code == 404 and foreign.json() == {
        "error": {**missing.json()["error"], "message": foreign.json()["error"]["message"]}}
    assert globex.get("/v1/invoices").json()["items"] == []
    r = billing_api.admin.get("/v1/invoices")
    assert r.status_code == 422 and r.json()["error"]["field"] == "tenant"
    assert billing_api.admin.get("/v1/invoices", params={"tenant": "acme"}).json()["items"][0]["id"] == "inv-2026-11"


def test_the_usage_preview_is_the_periods_draft_from_clickhouse(acme):
    at = {"at": "2026-11-20T00:00:00Z"}
    got = eventually(lambda: (r := acme.get("/v1/usage/preview", params=at).json()).get("lines") and r)
    assert got["period"] == "2026-11"
    assert [(x["kind"], x["item"], x["quantity"], x["amount"]) for x in got["lines"]] == [
        ("completion_tokens", "llama", "500", "0.00"), ("gpu", "H100", "5400", "3.75"),
        ("prompt_tokens", "llama", "1000", "0.00")]
    assert got["subtotal"] == {"USD": "3.75"}
    r = acme.get("/v1/usage/preview", params={"period": "yearly"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "period"


def tessera(args: list[str], stack: Stack, token: str, tmp_path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_")}
    env.update({"TESSERA_HOME": str(tmp_path), "TESSERA_URL": stack.url, "TESSERA_TOKEN": token})
    return subprocess.run([TESSERA, *args], capture_output=True, text=True, timeout=60, env=env, check=False)


def test_the_cli_lists_shows_and_exports_invoices(billing_api, acme, tmp_path):
    token = acme.headers["Authorization"].removeprefix("Bearer ")
    listed = tessera(["invoices", "list", "-o", "json"], billing_api.stack, token, tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert [i["id"] for i in json.loads(listed.stdout)["items"]] == ["inv-2026-11"]
    shown = tessera(["invoices", "show", "inv-2026-11"], billing_api.stack, token, tmp_path)
    assert shown.returncode == 0 and "H100" in shown.stdout and "3.75" in shown.stdout
    exported = tessera(["invoices", "export", "inv-2026-11", "--format", "csv"], billing_api.stack, token, tmp_path)
    assert exported.stdout == acme.get("/v1/invoices/inv-2026-11/export", params={"format": "csv"}).text
    out = tmp_path / "inv.json"
    assert tessera(["invoices", "export", "inv-2026-11", "-f", "json", "--out", str(out)], billing_api.stack, token,
                   tmp_path).returncode == 0
    assert json.loads(out.read_text())["total"] == "3.75"
    missing = tessera(["invoices", "show", "inv-nope"], billing_api.stack, token, tmp_path)
    assert missing.returncode == 1 and "not found" in missing.stderr and "Traceback" not in missing.stderr
