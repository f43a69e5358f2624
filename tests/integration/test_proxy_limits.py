"""Per-key limits and budgets: OpenAI-shaped 429/402, and counts that hold with two proxies under load.

Two real ProxyRuntimes share one nats-server (and so the KV counters); the
rate window is pinned (`limits_clock`) so a test never straddles a minute.
Checked: rpm admits exactly `rpm` requests of a burst spread over both
proxies; tpm admits no more tokens than the limit and the window ends at the
engine-reported tokens (reserve, then settle); a budget is never overspent
under a concurrent burst and the spend ends at the exact cost of what was
served; a key over budget gets 402 with a reason.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

import httpx
import pytest

from bus.connection import Bus, connect
from bus.streams import ensure_streams
from tests.integration.test_proxy_standin import Stack, usage_records

WINDOW = 1_800_000_000.0  # a pinned "now" (unix s) in the middle of nowhere: start of a minute
CHAT = {"model": "llama", "max_tokens": 4, "messages": [{"role": "user", "content": "one two three"}]}  # 7 tokens


@pytest.fixture
async def stack(nats_server, settings):
    nc = await connect(nats_server.url, settings)
    await ensure_streams(nc.jetstream(), settings)
    s = await Stack(Bus(nc=nc, js=nc.jetstream(), settings=settings, url=nats_server.url)).start()
    yield s
    await s.stop()
    await nc.close()


async def two_proxies(stack: Stack):
    a = await stack.proxy(limits_clock=lambda: WINDOW + 1)
    b = await stack.proxy(limits_clock=lambda: WINDOW + 2)
    await stack.replica("llama")
    await stack.replica("llama")
    return a, b


async def burst(urls: list[str], key: str, n: int, body: dict = CHAT) -> list[httpx.Response]:
    clients = [httpx.AsyncClient(base_url=u, headers={"Authorization": f"Bearer {key}"},
                                 limits=httpx.Limits(max_connections=64)) for u in urls]
    try:
        return await asyncio.gather(*(clients[k % len(clients)].post("/v1/chat/completions", json=body)
                                      for k in range(n)))
    finally:
        for c in clients:
            await c.aclose()


async def test_rpm_admits_exactly_the_limit_across_two_proxies_and_answers_429_with_retry_after(stack):
    a, b = await two_proxies(stack)
    key, key_id = await stack.api_key(rpm=20)
    answers = await burst([a.url, b.url], key, 60)
    statuses = [r.status_code for r in answers]
    assert statuses.count(200) == 20 and statuses.count(429) == 40
    refused = next(r for r in answers if r.status_code == 429)
    assert refused.json()["error"]["type"] == "rate_limit_error"
    assert refused.json()["error"]["code"] == "rate_limit_exceeded"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert (await a.proxy.limits.window(key_id))["r"] == 20
    assert len(await usage_records(stack.bus.nc, 20)) == 20


async def test_tpm_never_admits_more_than_the_limit_and_settles_to_the_engines_tokens(stack):
    a, b = await two_proxies(stack)
    key, key_id = await stack.api_key(tpm=100)
    # each request reserves its estimate (3 + 1 per message, + 2) + max_tokens 4 = 10, then uses 7
    answers = await burst([a.url, b.url], key, 40)
    served = [r for r in answers if r.status_code == 200]
    assert served and all(r.status_code in (200, 429) for r in answers)
    used = sum(r.json()["usage"]["total_tokens"] for r in served)
    assert used <= 100
    records = await usage_records(stack.bus.nc, len(served))
    assert sum(env.data.total_tokens for _, env in records) == used
    assert (await a.proxy.limits.window(key_id))["t"] == used, "every reservation settled to the actual tokens"


async def test_a_budget_is_never_overspent_under_a_concurrent_burst_on_two_proxies(stack):
    a, b = await two_proxies(stack)
    await stack.rate_card({"llama": "1"})  # 1 per 1,000 tokens: a served request costs exactly 0.007
    key, key_id = await stack.api_key(budget="0.1")
    answers = await burst([a.url, b.url], key, 40)
    served = [r for r in answers if r.status_code == 200]
    refused = [r for r in answers if r.status_code != 200]
    assert served and refused and all(r.status_code == 402 for r in refused)
    error = refused[0].json()["error"]
    assert (error["type"], error["code"]) == ("insufficient_quota", "budget_exceeded")
    assert "budget" in error["message"]
    spent = await a.proxy.limits.spent(key_id)
    assert spent == Decimal("0.007") * len(served) <= Decimal("0.1")
    # the rest of the budget cannot cover one more reservation (10 tokens = 0.01), so the key stays refused
    again = await burst([b.url], key, 1)
    assert again[0].status_code == (402 if spent + Decimal("0.01") > Decimal("0.1") else 200)


async def test_a_key_with_a_budget_cannot_call_an_unpriced_model(stack):
    proxy = await stack.proxy()
    await stack.replica("llama")
    key, _ = await stack.api_key(budget="5")
    [r] = await burst([proxy.url], key, 1)
    assert r.status_code == 402 and "no price" in r.json()["error"]["message"]


async def test_group_commit_decides_each_change_in_order_and_two_proxies_never_pass_the_cap(stack):
    from gateway.proxy.kvcombine import Combiner, read
    from gateway.proxy.limits import RATE_BUCKET, open_limits

    await open_limits(stack.bus.js)  # creates the buckets
    kv = await stack.bus.js.key_value(RATE_BUCKET)
    a, b = Combiner(kv), Combiner(kv)  # two proxies' views of one counter
    cap = 70

    def take(c: dict) -> dict:
        if c.get("n", 0) >= cap:
            raise OverflowError("full")
        return {"n": c.get("n", 0) + 1}

    outcomes = await asyncio.gather(*((a if k % 2 else b).change("rate.cap", take) for k in range(100)),
                                    return_exceptions=True)
    assert sum(not isinstance(o, BaseException) for o in outcomes) == cap
    assert all(isinstance(o, OverflowError) for o in outcomes if isinstance(o, BaseException))
    value, revision = await read(kv, "rate.cap")
    assert value == {"n": cap}
    solo = Combiner(kv)
    await asyncio.gather(*(solo.change("rate.solo", lambda c: {"n": c.get("n", 0) + 1}) for _ in range(50)))
    value, last = await read(kv, "rate.solo")
    assert value == {"n": 50} and last - revision < 10, "50 concurrent changes took a few writes, not 50"
