"""Routing: least-loaded replica, failover before the first byte, cancellation on disconnect, replica expiry.

Real stand-in engine processes registered in the real discovery bucket; a dead
replica is a registered port nobody listens on, or a stand-in killed with
SIGKILL while requests are in flight. Ledger: every request sent is answered
200 (none lost) unless it had already started streaming.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from bus.connection import Bus, connect
from bus.streams import ensure_streams
from tests.factories.control import eventually
from tests.integration.test_proxy_standin import Stack, free_port, usage_records

CHAT = {"model": "llama", "max_tokens": 4, "messages": [{"role": "user", "content": "one two three"}]}


@pytest.fixture
async def stack(nats_server, settings):
    nc = await connect(nats_server.url, settings)
    await ensure_streams(nc.jetstream(), settings)
    s = await Stack(Bus(nc=nc, js=nc.jetstream(), settings=settings, url=nats_server.url)).start()
    yield s
    await s.stop()
    await nc.close()


async def client_for(stack: Stack, proxy) -> httpx.AsyncClient:
    key, _ = await stack.api_key()
    return httpx.AsyncClient(base_url=proxy.url, headers={"Authorization": f"Bearer {key}"},
                             limits=httpx.Limits(max_connections=64), timeout=30)


async def stats(standin) -> dict:
    async with httpx.AsyncClient() as c:
        return (await c.get(standin.url + "/stats")).json()


async def test_requests_go_to_the_least_loaded_replica(stack):
    proxy = await stack.proxy()
    busy = await stack.replica("llama", running=8, max_concurrent=8)
    idle = await stack.replica("llama", running=0, max_concurrent=8)
    async with await client_for(stack, proxy) as c:
        for _ in range(6):  # sequential: the idle one stays least loaded
            assert (await c.post("/v1/chat/completions", json=CHAT)).status_code == 200
    assert ((await stats(busy))["requests"], (await stats(idle))["requests"]) == (0, 6)


async def test_a_dead_replica_is_skipped_and_no_request_fails(stack):
    proxy = await stack.proxy()
    await stack.replica("llama", url=f"http://127.0.0.1:{free_port()}")  # registered, nobody listening
    alive = await stack.replica("llama")
    async with await client_for(stack, proxy) as c:
        answers = await asyncio.gather(*(c.post("/v1/chat/completions", json={**CHAT, "stream": s})
                                         for s in [False, True] * 10))
    assert [r.status_code for r in answers] == [200] * 20
    assert (await stats(alive))["requests"] == 20
    records = [env.data for _, env in await usage_records(stack.bus.nc, 20)]
    assert len(records) == 20 and all(r.outcome == "ok" for r in records)
    assert any(r.attempts == 2 for r in records), "the dead replica was tried first at least once"


async def test_a_replica_killed_under_load_loses_no_request_that_had_not_started_streaming(stack):
    proxy = await stack.proxy()
    doomed = await stack.replica("llama")
    survivor = await stack.replica("llama")
    sent = 100
    async with await client_for(stack, proxy) as c:
        async def one(k: int) -> int:
            await asyncio.sleep(k * 0.003)
            return (await c.post("/v1/chat/completions", json=CHAT)).status_code

        load = asyncio.gather(*(one(k) for k in range(sent)))
        await asyncio.sleep(0.15)
        doomed.kill()
        statuses = await load
    assert statuses == [200] * sent
    assert (await stats(survivor))["requests"] > 0
    records = [env.data for _, env in await usage_records(stack.bus.nc, sent)]
    assert len(records) == sent and {r.replica for r in records} == {0, 1}, "both served before the kill"
    assert all(r.outcome == "ok" for r in records)


async def test_a_client_that_disconnects_mid_stream_cancels_the_upstream_and_is_metered_as_aborted(stack):
    proxy = await stack.proxy()
    engine = await stack.replica("llama")
    body = {**CHAT, "max_tokens": 50, "stream": True, "standin_delay_ms": 50}
    c = await client_for(stack, proxy)
    async with c, c.stream("POST", "/v1/chat/completions", json=body) as r:
        lines = r.aiter_lines()
        while not (await lines.__anext__()).startswith("data: "):
            pass
    # leaving the block closed the connection after the first chunk
    await eventually(lambda: _cancelled(engine), timeout=5)
    [(_, env)] = await usage_records(stack.bus.nc, 1)
    assert (env.data.outcome, env.data.status) == ("aborted", 499)
    assert 1 <= env.data.completion_tokens < 50, "counted what was sent, not what was asked"
    assert env.data.estimated and env.data.prompt_tokens > 0


async def test_a_client_that_gives_up_on_a_complete_answer_cancels_the_upstream_call(stack):
    proxy = await stack.proxy()
    engine = await stack.replica("llama")
    c = await client_for(stack, proxy)
    async with c:
        with pytest.raises(httpx.ReadTimeout):
            await c.post("/v1/chat/completions", json={**CHAT, "standin_delay_ms": 800}, timeout=0.3)
        await eventually(lambda: _cancelled(engine), timeout=5)
        assert (await c.post("/v1/chat/completions", json=CHAT)).status_code == 200, "the pool still serves"
    records = sorted((env.data for _, env in await usage_records(stack.bus.nc, 2)), key=lambda r: r.status)
    assert [(r.outcome, r.status) for r in records] == [("ok", 200), ("aborted", 499)]


async def _cancelled(engine) -> bool:
    return (await stats(engine))["cancelled"] == 1


async def test_no_healthy_replica_is_503_with_retry_after(stack):
    proxy = await stack.proxy()
    async with await client_for(stack, proxy) as c:
        r = await c.post("/v1/chat/completions", json=CHAT)
        assert r.status_code == 404  # nothing serves "llama" to this tenant: unknown model
        await stack.replica("llama", url=f"http://127.0.0.1:{free_port()}")
        r = await c.post("/v1/chat/completions", json=CHAT)
        assert r.status_code == 503 and r.json()["error"]["code"] == "upstream_unavailable"
        r = await c.post("/v1/chat/completions", json=CHAT)  # the only replica is ejected now
        assert r.status_code == 503 and r.json()["error"]["code"] == "no_replica"
        assert r.headers["retry-after"] == "1"


def test_a_replica_not_refreshed_within_the_ttl_is_not_routed_to_and_ejection_expires():
    from bus.discovery import AgentEntry
    from gateway.proxy.replicas import Replicas

    clock = [100.0]
    replicas = Replicas(ttl_s=10, eject_s=5, clock=lambda: clock[0])
    entry = AgentEntry(tenant="acme", deployment="d", model="llama", replica=0, generation=1,
                       url="http://x", engine="vllm")
    replicas.update(entry.key, entry)
    assert replicas.pick("acme", "llama").key == entry.key
    replicas.eject(replicas.pick("acme", "llama"))
    assert replicas.pick("acme", "llama") is None and replicas.serves("acme", "llama")
    clock[0] += 5.1
    assert replicas.pick("acme", "llama") is not None
    clock[0] += 5
    assert replicas.pick("acme", "llama") is None and not replicas.serves("acme", "llama")
    replicas.update(entry.key, entry)  # a heartbeat brings it back
    assert replicas.pick("acme", "llama") is not None
    replicas.update(entry.key, None)  # deregistered
    assert not replicas.serves("acme", "llama")
