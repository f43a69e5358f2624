"""Budgets at the proxy, against real parts: key budget alerts at 50/80/100%, and the tenant hard budget.

A real nats-server, the real control plane (keys, budgets and the spend
reports are real commands on CMD, decided by the apikey aggregate), real
ProxyRuntimes and stand-in engines (tests/integration/test_proxy_standin.py).

Key alerts: a completion of prompt "aaa bbb" with max_tokens 8 reserves
exactly what it uses (2 + 8 tokens), so at 1 per 1,000 tokens every request
costs 0.01 and a 0.1 budget takes exactly 10. Ledger: the reports each proxy
sent and the thresholds read back from EVT, per request; exactly one event
per threshold, also with a burst over two proxies. The key's GET /v1/keys/{id}
and `tessera keys show` list the alerts of the current budget.

Tenant budget: the billing consumer bills the proxy's usage records and
announces the crossings; a hard budget at 100% then gets 402 (through the
official `openai` client), a soft one is still served, and a new SetBudget
lifts the stop.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import openai
import orjson
import pytest

from bus.billing import BillingConsumer, BillingSettings
from bus.connection import Bus, connect
from bus.streams import ensure_streams
from schemas import decode
from schemas import identity as i
from schemas.billing import BudgetThresholdCrossed, SetBudget
from tests.factories.control import eventually
from tests.integration.conftest import stored_msgs
from tests.integration.test_agent import TESSERA
from tests.integration.test_proxy_standin import Stack, usage_records

WINDOW = 1_800_000_000.0
EXACT = {"model": "llama", "prompt": "aaa bbb", "max_tokens": 8}  # reserves 10 tokens, uses 10
CHAT = {"model": "llama", "max_tokens": 4, "messages": [{"role": "user", "content": "one two three"}]}  # 7 tokens


@pytest.fixture
async def stack(nats_server, settings):
    nc = await connect(nats_server.url, settings)
    await ensure_streams(nc.jetstream(), settings)
    s = await Stack(Bus(nc=nc, js=nc.jetstream(), settings=settings, url=nats_server.url)).start()
    yield s
    await s.stop()
    await nc.close()


async def alerts_on_evt(stack: Stack, key_id: str) -> list[i.ApiKeyBudgetThresholdCrossed]:
    events = [decode(m.data).data for m in await stored_msgs(stack.bus.nc, "EVT", f"evt.acme.apikey.{key_id}.>")]
    return [e for e in events if isinstance(e, i.ApiKeyBudgetThresholdCrossed)]


async def settled(stack: Stack, key_id: str, expected: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The (revision, threshold) pairs on EVT once they equal `expected` (or the last read after 10 s)."""
    async def read():
        return [(e.budget_revision, e.threshold) for e in await alerts_on_evt(stack, key_id)]

    async def reached():
        return await read() == expected
    try:
        await eventually(reached, timeout=10)
    except AssertionError:
        pass
    await asyncio.sleep(0.3)  # anything decided late would show up now
    return await read()


async def complete(url: str, key: str, n: int = 1) -> list[int]:
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {key}"}) as c:
        return [(await c.post("/v1/completions", json=EXACT)).status_code for _ in range(n)]


async def test_a_soft_key_budget_only_alerts_it_never_refuses(stack):
    proxy = await stack.proxy(limits_clock=lambda: WINDOW + 1, freeze_heap=False)
    await stack.replica("llama")
    await stack.rate_card({"llama": "1"})
    key, key_id = await stack.api_key(budget="0.05", budget_mode="soft")
    assert await complete(proxy.url, key, 8) == [200] * 8  # 0.08 of a 0.05 budget: still served
    assert await proxy.proxy.limits.spent(key_id) == Decimal("0.08")  # counted all the same
    expected = [(1, 50), (1, 80), (1, 100)]
    assert await settled(stack, key_id, expected) == expected
    await stack.command("acme", i.ChangeApiKeyBudget(key_id=key_id, budget="0.05", budget_mode="hard"))
    await eventually(lambda: proxy.proxy.identity.api_key("acme", key_id).budget_mode == "hard")
    assert await complete(proxy.url, key) == [402]  # the same budget, now hard


async def test_a_key_reports_50_80_100_percent_once_each_and_a_new_budget_starts_over(stack):
    proxy = await stack.proxy(limits_clock=lambda: WINDOW + 1, freeze_heap=False)
    await stack.replica("llama")
    await stack.rate_card({"llama": "1"})
    key, key_id = await stack.api_key(budget="0.1")
    alerts = proxy.proxy.alerts
    # after request n: (reports sent by the proxy, thresholds on EVT)
    ledger = {4: (0, []), 5: (1, [50]), 7: (1, [50]), 8: (2, [50, 80]), 9: (2, [50, 80]), 10: (3, [50, 80, 100])}
    served = 0
    for n, (reports, thresholds) in ledger.items():
        assert await complete(proxy.url, key, n - served) == [200] * (n - served)
        served = n
        await eventually(lambda reports=reports: alerts.queue.empty() and alerts.sent == reports)
        assert alerts.sent == reports, f"after {n} requests"
        assert await settled(stack, key_id, [(1, t) for t in thresholds]) == [(1, t) for t in thresholds]
    assert await complete(proxy.url, key) == [402]  # exhausted: refused, nothing new to report
    assert alerts.sent == 3 and await proxy.proxy.limits.spent(key_id) == Decimal("0.1")
    [full] = [e for e in await alerts_on_evt(stack, key_id) if e.threshold == 100]
    assert (full.spent, full.limit) == (Decimal("0.1"), Decimal("0.1"))

    await stack.command("acme", i.ChangeApiKeyBudget(key_id=key_id, budget="0.2"))  # revision 2
    await eventually(lambda: proxy.proxy.identity.api_key("acme", key_id).budget_revision == 2)
    assert await complete(proxy.url, key) == [200]  # 0.11 of 0.2: 50% of the new budget
    expected = [(1, 50), (1, 80), (1, 100), (2, 50)]
    assert await settled(stack, key_id, expected) == expected

    # where a user looks: the key's GET and `tessera keys show` list the current budget's alerts
    await eventually(lambda: len(proxy.proxy.identity.api_key("acme", key_id).budget_alerts) == 1)
    gateway, token = await _gateway(stack)
    try:
        async with httpx.AsyncClient(base_url=gateway.url, headers={"Authorization": f"Bearer {token}"}) as c:
            async def listed():
                body = (await c.get(f"/v1/keys/{key_id}", params={"tenant": "acme"})).json()
                return body if body.get("budget_alerts") else None
            body = await eventually(listed)
        [alert] = body["budget_alerts"]
        assert (alert["threshold"], alert["spent"], alert["limit"], body["budget"]) == (50, "0.11", "0.2", "0.2")
        shown = await _cli(gateway.url, token, "keys", "show", key_id, "--tenant", "acme")
        assert "50% at 0.11 of 0.2" in shown
        listed_json = orjson.loads(await _cli(gateway.url, token, "keys", "show", key_id, "--tenant", "acme",
                                              "-o", "json"))
        assert [a["threshold"] for a in listed_json["budget_alerts"]] == [50]
    finally:
        await gateway.stop()


async def test_a_burst_over_two_proxies_announces_each_threshold_exactly_once(stack):
    a = await stack.proxy(limits_clock=lambda: WINDOW + 1, freeze_heap=False)
    b = await stack.proxy(limits_clock=lambda: WINDOW + 2, freeze_heap=False)
    await stack.replica("llama")
    await stack.replica("llama")
    await stack.rate_card({"llama": "1"})
    key, key_id = await stack.api_key(budget="0.1")
    clients = [httpx.AsyncClient(base_url=p.url, headers={"Authorization": f"Bearer {key}"}) for p in (a, b)]
    try:
        answers = await asyncio.gather(*(clients[n % 2].post("/v1/completions", json=EXACT) for n in range(16)))
    finally:
        for c in clients:
            await c.aclose()
    statuses = [r.status_code for r in answers]
    assert statuses.count(200) == 10 and statuses.count(402) == 6
    expected = [(1, 50), (1, 80), (1, 100)]
    assert await settled(stack, key_id, expected) == expected
    reports = [decode(m.data) for m in await stored_msgs(stack.bus.nc, "CMD", "cmd.acme.identity.>")]
    reports = [r for r in reports if isinstance(r.data, i.ReportApiKeySpend)]
    assert 1 <= len(reports) <= a.proxy.alerts.sent + b.proxy.alerts.sent
    assert len({r.id for r in reports}) == len(reports), "copies with one id were dropped by the stream"


async def test_a_hard_tenant_budget_at_100_percent_refuses_inference_until_a_new_budget(stack):
    proxy = await stack.proxy(freeze_heap=False)
    await stack.replica("llama", tenant="acme")
    await stack.replica("llama", tenant="beta")
    await stack.rate_card({"llama": "1000"})  # 1 per token: a CHAT request bills 3 + 4 = 7
    await stack.command("acme", SetBudget(tenant="acme", amount="10", mode="hard"))
    await stack.command("beta", SetBudget(tenant="beta", amount="10", mode="soft"))
    await eventually(lambda: {"acme", "beta"} <= set(proxy.proxy.budgets.spend))
    acme = openai.AsyncOpenAI(base_url=f"{proxy.url}/v1", api_key=(await stack.api_key("acme"))[0], max_retries=0)
    beta = openai.AsyncOpenAI(base_url=f"{proxy.url}/v1", api_key=(await stack.api_key("beta"))[0], max_retries=0)
    chat = dict(CHAT)
    for client in (acme, acme, beta, beta):
        await client.chat.completions.create(**chat)  # 14 of 10 each, not billed yet
    await usage_records(stack.bus.nc, 4)
    await BillingConsumer(stack.bus.nc, BillingSettings(batch=4)).catch_up()
    period = datetime.now(UTC).strftime("%Y-%m")
    for tenant in ("acme", "beta"):
        crossed = [decode(m.data).data for m in await stored_msgs(stack.bus.nc, "EVT", f"evt.{tenant}.budget.>")]
        assert [c.threshold for c in crossed if isinstance(c, BudgetThresholdCrossed)] == [50, 80, 100]

    await eventually(lambda: proxy.proxy.budgets.spend["acme"].exhausted is not None)
    with pytest.raises(openai.APIStatusError) as refused:
        await acme.chat.completions.create(**chat)
    assert refused.value.status_code == 402
    error = refused.value.body
    assert (error["type"], error["code"]) == ("insufficient_quota", "tenant_budget_exceeded")
    for part in ("acme", period, "10 USD", "14.00 USD"):
        assert part in error["message"], error["message"]
    assert (await beta.chat.completions.create(**chat)).usage.total_tokens == 7, "a soft budget only alerts"

    await stack.command("acme", SetBudget(tenant="acme", amount="100", mode="hard"))  # a new revision
    await eventually(lambda: proxy.proxy.budgets.spend["acme"].revision == 2)
    assert (await acme.chat.completions.create(**chat)).usage.total_tokens == 7
    await acme.close()
    await beta.close()


async def _gateway(stack: Stack):
    from gateway.http import GatewayRuntime, GatewaySettings

    runtime = GatewayRuntime(stack.bus, GatewaySettings(host="127.0.0.1", port=0, command_timeout=5.0))
    await runtime.start()
    await runtime.serve(port=0)
    token = await runtime.bootstrap("root")
    return runtime, token


async def _cli(url: str, token: str, *args: str) -> str:
    import os
    import tempfile

    with tempfile.TemporaryDirectory() as home:
        proc = await asyncio.create_subprocess_exec(
            TESSERA, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "TESSERA_URL": url, "TESSERA_TOKEN": token, "TESSERA_HOME": home, "COLUMNS": "200"})
        out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    return out.decode()
