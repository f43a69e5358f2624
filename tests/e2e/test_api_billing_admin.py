"""Billing administration over HTTP and the CLI: rate cards, the tenant budget, credits, voiding invoices.

Against the running stack (real nats-server, control plane, gateway): every write goes through
the control plane's deciders (refusals come back from the dead letter) and is read back from the
gateway's read models. Invoices are written by the billing consumer, not by a command: the tenant's
draft invoices are written to EVT the way that consumer writes them (its EventLog, so the control
plane can load and void them): opened, a line, accrued usage.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from bus.eventstore.config import StoreConfig
from bus.eventstore.mapper import EnvelopeMapper
from bus.eventstore.store import EventLog
from domains.billing.periods import invoice_id, period_of
from gateway.cli import app
from schemas import Envelope
from schemas import billing as b
from schemas.metering import Price
from tests.e2e.conftest import eventually

TENANT = "billco"
TESSERA = str(Path(sys.executable).with_name("tessera"))
NOW = datetime.now(UTC)
CURRENT = period_of(NOW, "monthly")
PAST = period_of(datetime(2021, 3, 10, tzinfo=UTC), "monthly")
CARD = {"version": 1, "effective_from": "2020-01-01T00:00:00Z", "gpu_hour": {"H100": "2.50"},
        "gpu_prices": {"A100": {"scheme": "graduated", "tiers": [{"up_to": "100", "unit_price": "1.80"},
                                                                 {"unit_price": "1.50"}]}}}


def invoice_events(period, n: int = 1) -> list[Envelope]:
    """A draft invoice of TENANT for `period`: one H100 line, `n` GPU-hours at 2.50."""
    inv = invoice_id(period.key)
    line = b.InvoiceLine(line_id="l1", kind="gpu", item="H100", unit="gpu_second", priced_unit="gpu_hour",
                         rate_card_version=1, price=Price(unit_price=Decimal("2.50")), currency="USD")
    events = [b.InvoiceOpened(invoice_id=inv, tenant=TENANT, period=period.key, period_start=period.start,
                              period_end=period.end, currency="USD"),
              b.InvoiceLineOpened(invoice_id=inv, line=line),
              b.InvoiceUsageAccrued(invoice_id=inv, usage=[b.AccruedUsage(
                  record_id=f"{inv}-g1", line_id="l1", quantity=Decimal(3600 * n), at=period.start, usage_seq=1)])]
    return [_evt("invoice", inv, version, data) for version, data in enumerate(events, 1)]


def _evt(aggregate: str, id: str, version: int, data) -> Envelope:
    return Envelope(specversion="1.0", id=f"t-{aggregate}-{id}-{version}", source="/tessera/billing", type=data.TYPE,
                   time=NOW, tenant=TENANT, actor="system:billing", correlationid=id, data=data, aggregate=aggregate,
                   aggregateid=id, version=version)


def write(api, envs: list[Envelope]) -> None:
    """As the billing consumer writes its events: one atomic batch through the event store."""
    mapper = EnvelopeMapper()
    api.stack.call(EventLog(api.stack.bus.nc, StoreConfig()).insert([mapper.to_stored_event(e) for e in envs]))


@pytest.fixture(scope="module")
def world(api):
    users = {role: api.user(TENANT, f"bill-{role}", role) for role in ("viewer", "member", "tenant-admin")}
    write(api, invoice_events(CURRENT) + invoice_events(PAST, 4))
    eventually(lambda: len(users["viewer"].get("/v1/invoices").json()["items"]) == 2)
    return users


def as_tenant(headers: dict | None = None) -> dict:
    return {"X-Tessera-Tenant": TENANT, **(headers or {})}


# --- rate cards ------------------------------------------------------------------------------------

def test_a_rate_card_published_through_the_api_reads_back_for_every_role(api, world):
    r = api.admin.post("/v1/ratecards", json=CARD)
    assert r.status_code == 202 and r.json() == {"id": "1", "status": "published", "link": "/v1/ratecards/1"}, r.text
    got = world["viewer"].get("/v1/ratecards/1")
    assert got.status_code == 200, got.text
    card = got.json()
    assert (card["gpu_hour"], card["in_force"]) == ({"H100": "2.50"}, True)
    assert [t["up_to"] for t in card["gpu_prices"]["A100"]["tiers"]] == ["100", None]
    assert [c["version"] for c in world["member"].get("/v1/ratecards").json()["items"]] == [1]
    assert world["viewer"].get("/v1/ratecards/7").status_code == 404


def test_a_published_version_is_never_published_again(api, world):
    again = api.admin.post("/v1/ratecards", json={**CARD, "gpu_hour": {"H100": "9.99"}})
    assert again.status_code == 409 and again.json()["error"]["field"] == "version", again.text
    same = api.admin.post("/v1/ratecards", json=CARD)
    assert same.status_code == 409
    assert api.admin.get("/v1/ratecards/1").json()["gpu_hour"] == {"H100": "2.50"}


def test_a_yaml_card_publishes_and_the_domain_refusals_name_their_field(api, world):
    v2 = {**CARD, "version": 2, "effective_from": "2020-06-01T00:00:00Z", "gpu_hour": {"H100": "2.00"}}
    dry = api.admin.post("/v1/ratecards", params={"dry_run": "true"}, json=v2)
    assert dry.status_code == 200 and dry.json()["valid"] is True
    assert api.admin.get("/v1/ratecards/2").status_code == 404  # a dry run publishes nothing
    r = api.admin.post("/v1/ratecards", content=yaml.safe_dump(v2), headers={"Content-Type": "application/yaml"})
    assert r.status_code == 202 and r.json()["status"] == "published", r.text
    assert [c["version"] for c in api.admin.get("/v1/ratecards").json()["items"]] == [2, 1]
    gap = api.admin.post("/v1/ratecards", json={**v2, "version": 5, "effective_from": "2021-01-01T00:00:00Z"})
    assert gap.status_code == 409 and gap.json()["error"]["field"] == "version", gap.text  # from the dead letter
    earlier = api.admin.post("/v1/ratecards", json={**v2, "version": 3})
    assert earlier.status_code == 422 and earlier.json()["error"]["field"] == "effective_from", earlier.text


def test_a_malformed_card_names_the_field_path(api, world):
    bad_tiers = {**CARD, "version": 3, "gpu_prices": {"H100": {"scheme": "graduated", "tiers": [
        {"up_to": "100", "unit_price": "2"}, {"up_to": "50", "unit_price": "1"}, {"unit_price": "1"}]}}}
    r = api.admin.post("/v1/ratecards", json=bad_tiers)
    assert r.status_code == 422 and r.json()["error"]["field"] == "gpu_prices.H100.tiers[1].up_to", r.text
    r = api.admin.post("/v1/ratecards", json={**CARD, "version": 3, "gpu_hour": {"H100": 2.5}})
    assert r.status_code == 422 and r.json()["error"]["field"] == "gpu_hour.H100", r.text
    r = api.admin.post("/v1/ratecards", json={**CARD, "version": 3, "colour": "red"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "colour"
    r = world["tenant-admin"].post("/v1/ratecards", json={**CARD, "version": 3})
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    assert api.admin.get("/v1/ratecards/3").status_code == 404


# --- budget --------------------------------------------------------------------------------------------

def test_a_tenant_admin_sets_the_budget_and_every_role_reads_it_with_the_periods_spend(api, world):
    r = world["tenant-admin"].put("/v1/budget", json={"amount": "10.00", "currency": "USD", "mode": "soft"})
    assert r.status_code == 202 and r.json() == {"id": TENANT, "status": "set", "link": "/v1/budget"}, r.text
    got = world["viewer"].get("/v1/budget").json()
    assert (got["amount"], got["mode"], got["period"], got["spent"]) == ("10.00", "soft", CURRENT.key, "2.50")
    assert got["set_by"].startswith(f"user:{TENANT}/bill-tenant-admin")
    for role in ("member", "viewer"):
        r = world[role].put("/v1/budget", json={"amount": "99", "mode": "soft"})
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden", (role, r.text)
    assert world["viewer"].get("/v1/budget").json()["amount"] == "10.00"
    bad = world["tenant-admin"].put("/v1/budget", json={"amount": 10.5, "mode": "soft"})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "amount"
    bad = world["tenant-admin"].put("/v1/budget", json={"amount": "10", "mode": "strict"})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "mode"


def test_the_budget_shows_the_thresholds_crossed_this_period(api, world):
    revision = world["viewer"].get("/v1/budget").json()["revision"]
    crossed = b.BudgetThresholdCrossed(tenant=TENANT, period=CURRENT.key, threshold=50, limit=Decimal(10),
                                       spent=Decimal("5.00"), currency="USD", mode="soft", budget_revision=revision)
    write(api, [_evt("budget", CURRENT.key, 1, crossed)])
    alerts = eventually(lambda: world["viewer"].get("/v1/budget").json()["alerts"])
    assert [(a["threshold"], a["spent"], a["limit"]) for a in alerts] == [(50, "5.00", "10")]


def test_a_hard_budget_a_platform_admin_set_is_lifted_only_by_a_platform_admin(api, world):
    r = api.admin.put("/v1/budget", json={"amount": "5", "mode": "soft"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "header.X-Tessera-Tenant"
    r = api.admin.put("/v1/budget", json={"amount": "5", "mode": "hard"}, headers=as_tenant())
    assert r.status_code == 202, r.text
    got = world["viewer"].get("/v1/budget").json()
    assert (got["amount"], got["mode"], got["alerts"]) == ("5", "hard", [])  # a new budget starts alerts over
    r = world["tenant-admin"].put("/v1/budget", json={"amount": "500", "mode": "soft"})
    assert r.status_code == 403 and "platform admin" in r.json()["error"]["message"]
    assert world["tenant-admin"].delete("/v1/budget").status_code == 403
    r = api.admin.delete("/v1/budget", headers=as_tenant())
    assert r.status_code == 202 and r.json()["status"] == "none", r.text
    assert world["viewer"].get("/v1/budget").json()["amount"] is None
    assert world["tenant-admin"].put("/v1/budget", json={"amount": "10.00", "mode": "hard"}).status_code == 202
    assert world["tenant-admin"].put("/v1/budget", json={"amount": "20.00", "mode": "soft"}).status_code == 202


# --- credits ---------------------------------------------------------------------------------------

def test_credits_granted_by_a_platform_admin_lower_the_tenants_invoice(api, world):
    inv = f"/v1/invoices/{invoice_id(CURRENT.key)}"
    assert world["viewer"].get(inv).json()["total"] == "2.50"
    r = api.admin.post("/v1/credits", headers=as_tenant(), json={"credit_id": "welcome", "kind": "amount",
                                                                 "amount": "1.00", "description": "welcome"})
    assert r.status_code == 202 and r.json()["id"] == "welcome" and r.json()["status"] == "active", r.text
    r = api.admin.post("/v1/credits", headers=as_tenant({"Idempotency-Key": "ten-off"}),
                       json={"kind": "percent", "percent": "10"})
    assert r.status_code == 202, r.text
    discount = r.json()["id"]
    again = api.admin.post("/v1/credits", headers=as_tenant({"Idempotency-Key": "ten-off"}),
                           json={"kind": "percent", "percent": "10"})
    assert again.json()["id"] == discount  # a retry grants nothing twice
    invoice = world["viewer"].get(inv).json()
    assert (invoice["subtotal"], invoice["total"]) == ("2.50", "1.25")  # 10% (0.25) first, then 1.00
    listed = world["viewer"].get("/v1/credits").json()["items"]
    assert [(c["credit_id"], c["kind"], c["status"]) for c in listed] == [
        ("welcome", "amount", "active"), (discount, "percent", "active")]
    assert all(c["tenant"] == TENANT for c in listed)
    r = api.admin.delete("/v1/credits/welcome", headers=as_tenant())
    assert r.status_code == 202 and r.json()["status"] == "revoked", r.text
    assert world["viewer"].get(inv).json()["total"] == "2.25"
    assert api.admin.delete("/v1/credits/welcome", headers=as_tenant()).json()["status"] == "revoked"
    assert api.admin.delete("/v1/credits/nope", headers=as_tenant()).status_code == 404


def test_only_platform_admins_grant_and_credits_are_validated(api, world):
    r = world["tenant-admin"].post("/v1/credits", json={"kind": "amount", "amount": "1000"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    r = api.admin.post("/v1/credits", headers=as_tenant(), json={"kind": "percent", "percent": "150"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "percent", r.text
    r = api.admin.post("/v1/credits", headers=as_tenant(), json={"kind": "amount", "percent": "5"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "amount", r.text
    r = api.admin.post("/v1/credits", headers={"X-Tessera-Tenant": "no-such-tenant"},
                       json={"kind": "amount", "amount": "1"})
    assert r.status_code == 404
    r = api.admin.post("/v1/credits", headers=as_tenant(), json={"credit_id": "welcome", "kind": "amount",
                                                                 "amount": "7.00"})
    assert r.status_code == 409 and r.json()["error"]["field"] == "credit_id", r.text  # other terms


# --- void ----------------------------------------------------------------------------------------------

def test_a_platform_admin_voids_an_invoice_once(api, world):
    inv = invoice_id(PAST.key)
    r = world["tenant-admin"].post(f"/v1/invoices/{inv}/void", json={"reason": "mine"})
    assert r.status_code == 403
    r = api.admin.post(f"/v1/invoices/{inv}/void", json={"reason": "billed twice"}, headers=as_tenant())
    assert r.status_code == 202 and r.json() == {"id": inv, "status": "void", "link": f"/v1/invoices/{inv}"}, r.text
    got = world["viewer"].get(f"/v1/invoices/{inv}").json()
    assert (got["status"], got["void_reason"], got["total"]) == ("void", "billed twice", "10.00")
    again = api.admin.post(f"/v1/invoices/{inv}/void", json={"reason": "again"}, headers=as_tenant())
    assert again.status_code == 409 and again.json()["error"]["field"] == "status"
    empty = api.admin.post(f"/v1/invoices/{inv}/void", json={"reason": ""}, headers=as_tenant())
    assert empty.status_code == 422 and empty.json()["error"]["field"] == "reason"


# --- the CLI ------------------------------------------------------------------------------------------

def cli(api, client, *args: str):
    token = client.headers["Authorization"].removeprefix("Bearer ")
    env = {"TESSERA_URL": api.stack.url, "TESSERA_TOKEN": token, "COLUMNS": "200"}
    return CliRunner().invoke(app, list(args), env=env)


def test_the_cli_manages_rate_cards_budget_credits_and_voids(api, world, tmp_path):
    card = tmp_path / "v3.yaml"
    card.write_text(yaml.safe_dump({**CARD, "version": 3, "effective_from": "2021-01-01T00:00:00Z"}))
    dry = cli(api, api.admin, "ratecards", "publish", str(card), "--dry-run")
    assert dry.exit_code == 0 and "valid" in dry.stdout, dry.stderr
    done = cli(api, api.admin, "ratecards", "publish", str(card))
    assert done.exit_code == 0 and "rate card 3: published" in done.stdout, done.stderr
    listed = json.loads(cli(api, world["viewer"], "ratecards", "list", "-o", "json").stdout)
    assert [c["version"] for c in listed["items"]] == [3, 2, 1]
    shown = cli(api, world["viewer"], "ratecards", "show", "1")
    assert shown.exit_code == 0 and "A100" in shown.stdout and "1.80 up to 100" in shown.stdout

    assert cli(api, world["tenant-admin"], "budget", "set", "42.50", "--mode", "soft").exit_code == 0
    budget = json.loads(cli(api, world["member"], "budget", "show", "-o", "json").stdout)
    assert (budget["amount"], budget["mode"]) == ("42.50", "soft")
    assert "42.50 USD" in cli(api, world["member"], "budget", "show").stdout
    assert cli(api, world["tenant-admin"], "budget", "clear").exit_code == 0
    assert json.loads(cli(api, world["viewer"], "budget", "show", "-o", "json").stdout)["amount"] is None

    granted = cli(api, api.admin, "credits", "grant", "--amount", "3.00", "--id", "cli-credit", "--tenant", TENANT)
    assert granted.exit_code == 0 and "credit cli-credit: active" in granted.stdout, granted.stderr
    assert "cli-credit" in cli(api, world["viewer"], "credits", "list").stdout
    assert cli(api, api.admin, "credits", "revoke", "cli-credit", "--tenant", TENANT).exit_code == 0
    credits = json.loads(cli(api, world["viewer"], "credits", "list", "-o", "json").stdout)["items"]
    assert next(c for c in credits if c["credit_id"] == "cli-credit")["status"] == "revoked"

    inv = invoice_id(CURRENT.key)
    voided = cli(api, api.admin, "invoices", "void", inv, "--reason", "test", "--tenant", TENANT)
    assert voided.exit_code == 0 and f"invoice {inv}: void" in voided.stdout, voided.stderr


def test_cli_errors_are_one_line_with_the_field(api, world, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**CARD, "version": 9, "gpu_prices": {"H100": {"scheme": "package"}}}))
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_")} | {
        "TESSERA_HOME": str(tmp_path), "TESSERA_URL": api.stack.url, "TESSERA_TOKEN": api.stack.admin_token}
    result = subprocess.run([TESSERA, "ratecards", "publish", str(bad)], capture_output=True, text=True, timeout=60, check=False,
                            env=environ)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: gpu_prices.H100.package_size: scheme package needs a package_size above 0")
    refused = cli(api, world["member"], "budget", "set", "1")
    assert refused.exit_code == 1 and "error: only tenant admins and platform admins" in refused.stderr
    unnamed = cli(api, api.admin, "budget", "set", "1")  # a platform admin owns no budget: which tenant?
    assert unnamed.exit_code == 1 and "CLI option --tenant" in unnamed.stderr, unnamed.stderr


def test_billing_reads_as_of_a_past_sequence_answer_that_past(api, world):
    """Rate cards, the budget and invoices under `?as_of=N` are the state at N, not what changed since."""
    stack = api.stack

    def settled() -> int | None:
        seq = stack.call(stack.bus.js.stream_info("EVT")).state.last_seq
        return seq if stack.primary.runner.position() >= seq else None

    n = eventually(settled)
    then = {path: world["tenant-admin"].get(path).json() for path in ("/v1/ratecards", "/v1/budget", "/v1/invoices")}
    version = max((c["version"] for c in then["/v1/ratecards"]["items"]), default=0) + 1
    r = api.admin.post("/v1/ratecards", json={**CARD, "version": version, "effective_from": "2031-01-01T00:00:00Z"})
    assert r.status_code == 202, r.text
    amount = "777.00" if then["/v1/budget"]["amount"] != "777.00" else "778.00"
    assert world["tenant-admin"].put("/v1/budget", json={"amount": amount, "mode": "soft"}).status_code == 202
    write(api, invoice_events(period_of(datetime(2022, 6, 1, tzinfo=UTC), "monthly")))
    eventually(lambda: len(world["tenant-admin"].get("/v1/invoices").json()["items"])
               == len(then["/v1/invoices"]["items"]) + 1)
    assert world["tenant-admin"].get("/v1/budget").json()["amount"] == amount  # the present moved on

    for path, answer in then.items():
        past = world["tenant-admin"].get(path, params={"as_of": n})
        assert past.status_code == 200 and past.headers["x-tessera-as-of"] == str(n), (path, past.text)
        assert past.json() == answer, path
