"""The official `openai` client against the Tessera proxy, metered end to end into ClickHouse.

One stack per module, all real parts: a nats-server, the control plane and the
gateway (with chdb) on one loop (tests/e2e/conftest.py), a ProxyRuntime, the
USAGE projection writing `inference_requests` and its per-minute rollup, a
real `tessera agent` process running the vLLM stand-in for `org/tiny`
(chat and completions) and an embeddings stand-in registered in discovery
(the vLLM stand-in has no /v1/embeddings). Replicas are the platform's
(`_platform`: every tenant may call them), so each test's tenant has only its
own usage. API keys are made through the gateway's /v1/keys.

Checked: chat, streamed chat (with the final usage chunk), completions and
embeddings answer as the client expects; one USAGE record per request with
the engine's exact token counts; the same rows in `inference_requests`, the
rollup, GET /v1/usage/inference and `tessera usage --inference`; and the
refusals as the client raises them (401, 404, 429, 402 with an OpenAI error).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import openai
import pytest

from adapters.clickhouse import client as clickhouse_client
from bus.commands import send
from bus.discovery import AgentEntry, open_registry
from bus.publish import Publisher
from bus.server import ServerProcess
from gateway.proxy.app import ProxyRuntime
from gateway.proxy.settings import ProxySettings
from projections.usage import queries
from projections.usage.service import UsageProjection
from schemas import Envelope
from schemas.envelope import PLATFORM_TENANT
from schemas.metering import PublishRateCard
from tests.e2e.conftest import Api, Stack, eventually
from tests.integration.test_agent import TESSERA, finish, start_agent
from tests.integration.test_proxy_standin import StandIn, usage_records

DB = "tessera"
TINY, EMBED = "org/tiny", "minilm"
WINDOW = 1_800_000_000.0  # the proxy's rate windows are pinned: a test never straddles a minute


class World:
    """The module's stack, plus the proxy, the projection and the replicas running on its loop."""

    def __init__(self, stack: Stack, api: Api, ch) -> None:
        self.stack, self.api, self.ch = stack, api, ch
        self.stop = asyncio.Event()
        self.proxy: ProxyRuntime | None = None
        self.tasks: list = []
        self.tenants: set[str] = set()

    def call(self, coro, timeout: float = 60.0):
        return self.stack.call(coro, timeout)

    async def start_proxy(self) -> str:
        self.projection = UsageProjection(self.stack.bus.nc, self.ch, database=DB, batch_size=100)
        self.tasks.append(asyncio.create_task(self.projection.run(self.stop)))
        self.proxy = ProxyRuntime(self.stack.bus, ProxySettings(freeze_heap=False), limits_clock=lambda: WINDOW + 1)
        await self.proxy.start()
        self.registry = await open_registry(self.stack.bus.js)
        return await self.proxy.serve("127.0.0.1", 0)

    async def heartbeat(self, model: str, url: str, deployment: str) -> None:
        entry = AgentEntry(tenant=PLATFORM_TENANT, deployment=deployment, model=model, replica=0, generation=1,
                           url=url, engine="vllm", max_concurrent=8)

        async def beat() -> None:
            while True:
                await self.registry.put(entry.model_copy(update={"updated": datetime.now(UTC)}))
                await asyncio.sleep(2)

        self.tasks.append(asyncio.create_task(beat()))

    async def command(self, tenant: str, cmd) -> None:
        env = Envelope.for_command(cmd, tenant=tenant, actor="user:_platform/root", source="/tests/openai",
                                   time=datetime.now(UTC))
        await send(Publisher(self.stack.bus.nc, stream="CMD"), env)

    async def close(self) -> None:
        self.stop.set()
        if self.proxy is not None:
            await self.proxy.stop()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    def key(self, tenant: str, **limits) -> tuple[str, str]:
        """A new API key of `tenant` through POST /v1/keys, once the proxy accepts it."""
        if tenant not in self.tenants:
            self.api.tenant(tenant)
            self.tenants.add(tenant)
        r = self.api.admin.post("/v1/keys", json={"name": "openai-e2e", **limits},
                                headers={"X-Tessera-Tenant": tenant})
        assert r.status_code == 201, r.text
        key, key_id = r.json()["key"], r.json()["id"]
        eventually(lambda: self.proxy.proxy.identity.authenticate_key(key, datetime.now(UTC)), timeout=10)
        return key, key_id

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        """`tessera ARGS` as the platform admin against this stack's gateway."""
        env = {**os.environ, "TESSERA_URL": self.stack.url, "TESSERA_TOKEN": self.stack.admin_token,
               "TESSERA_HOME": str(self.home)}
        return subprocess.run([TESSERA, *args], capture_output=True, text=True, timeout=60, env=env, check=False)

    def client(self, key: str, **options) -> openai.OpenAI:
        return openai.OpenAI(base_url=f"{self.proxy.url}/v1", api_key=key, timeout=60, **options)

    def records(self, key_id: str, count: int, timeout: float = 15.0) -> list:
        """This key's inference usage records on USAGE (waits for `count`), as (Nats-Msg-Id, envelope)."""
        def mine():
            found = [(m, e) for m, e in self.call(usage_records(self.stack.bus.nc, 10_000, timeout=0))
                     if e.data.key_id == key_id]
            return found if len(found) >= count else None
        with contextlib.suppress(AssertionError):
            return eventually(mine, timeout=timeout, interval=0.2)
        return [(m, e) for m, e in self.call(usage_records(self.stack.bus.nc, 10_000, timeout=0))
                if e.data.key_id == key_id]

    def rows(self, key_id: str, count: int) -> list[tuple]:
        """This key's rows of `inference_requests` (waits for `count`)."""
        sql = (f"SELECT request_id, tenant, model, endpoint, stream, outcome, status, prompt_tokens, "
               f"completion_tokens, estimated FROM {DB}.inference_requests FINAL WHERE key_id = {{k:String}} "
               "ORDER BY request_id")

        def found():
            rows = self.ch.query(sql, parameters={"k": key_id}).result_rows
            return rows if len(rows) >= count else None
        return eventually(found, timeout=20, interval=0.2)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    home = tmp_path_factory.mktemp("openai")
    server = ServerProcess(store_dir=home / "nats", name="openai").start()
    ch = clickhouse_client(home / "clickhouse")
    stack = Stack(server.url, clickhouse=ch).start()
    admin = stack.client(stack.admin_token)
    w = World(stack, Api(stack, admin), ch)
    w.home = home / "cli"
    agent = embed = None
    try:
        w.call(w.start_proxy())
        w.call(w.command(PLATFORM_TENANT, PublishRateCard(version=1, effective_from=datetime.now(UTC) - timedelta(hours=1),
                                                          tokens_1k={TINY: "1", EMBED: "1"})))
        eventually(lambda: w.proxy.proxy.prices.cards)
        agent = start_agent(server.url, deployment="tiny", tenant=PLATFORM_TENANT, model=TINY)
        embed = StandIn("embed").start()
        w.call(w.heartbeat(EMBED, embed.url, "minilm"))
        w.agent = agent

        def routable() -> bool:
            models = {r.entry.model for r in w.proxy.proxy.replicas._by_key.values()}
            return {TINY, EMBED} <= models
        try:
            eventually(routable, timeout=30, interval=0.2)
        except AssertionError:
            raise AssertionError(f"replicas never routable; agent said: {finish(agent, 1)[1] if agent.poll() is not None else ''}") from None
        yield w
    finally:
        with contextlib.suppress(Exception):
            w.call(w.close())
        if agent is not None and agent.poll() is None:
            agent.send_signal(signal.SIGTERM)
            with contextlib.suppress(Exception):
                finish(agent, 15)
        if embed is not None:
            embed.stop()
        admin.close()
        stack.stop()
        ch.close()
        server.stop()


def test_chat_stream_completion_and_embeddings_through_the_openai_client_are_metered_exactly(world):
    key, key_id = world.key("metered")
    client = world.client(key)
    assert {m.id for m in client.models.list()} == {TINY, EMBED}

    raw = client.chat.completions.with_raw_response.create(
        model=TINY, max_tokens=8, messages=[{"role": "user", "content": "one two three"}])
    chat = raw.parse()
    assert chat.choices[0].message.content == "echo: one two three"
    assert (chat.usage.prompt_tokens, chat.usage.completion_tokens, chat.usage.total_tokens) == (3, 4, 7)
    chat_id = raw.headers["x-request-id"]

    stream = client.chat.completions.create(model=TINY, max_tokens=3, stream=True,
                                            stream_options={"include_usage": True},
                                            messages=[{"role": "user", "content": "alpha beta gamma delta"}])
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "echo: alpha beta "
    assert chunks[-1].choices == [] and (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (4, 3)

    text = client.completions.create(model=TINY, prompt="a b c d e", max_tokens=3)
    assert text.choices[0].text == "echo: a b" and (text.usage.prompt_tokens, text.usage.completion_tokens) == (5, 3)

    vectors = client.embeddings.create(model=EMBED, input=["x y", "z"])
    assert [len(d.embedding) for d in vectors.data] == [4, 4] and vectors.usage.prompt_tokens == 3

    # one record per request on USAGE, with the engine's counts, deduplicated by the request id
    records = world.records(key_id, 4)
    assert len(records) == 4 and all(msg_id == env.data.request_id == env.id for msg_id, env in records)
    got = {(e.data.endpoint, e.data.stream): e.data for _, e in records}
    expected = {("chat.completions", False): (TINY, 3, 4), ("chat.completions", True): (TINY, 4, 3),
                ("completions", False): (TINY, 5, 3), ("embeddings", False): (EMBED, 3, 0)}
    assert {k: (r.model, r.prompt_tokens, r.completion_tokens) for k, r in got.items()} == expected
    assert all((r.tenant, r.outcome, r.status, r.estimated) == ("metered", "ok", 200, False) for r in got.values())
    assert got[("chat.completions", False)].request_id == chat_id
    assert got[("chat.completions", True)].first_token_ms is not None

    # the projection: the same four rows in inference_requests, and the per-minute rollup sums them
    rows = world.rows(key_id, 4)
    assert sorted(rows) == sorted((r.request_id, "metered", r.model, r.endpoint, int(r.stream), "ok", 200,
                                   r.prompt_tokens, r.completion_tokens, 0) for r in got.values())
    def rolled_up():
        found = queries.inference_minutes(world.ch, DB, "metered")
        return found if sum(m.requests for m in found) == 4 else None
    minutes = eventually(rolled_up, timeout=20, interval=0.2)
    by_model = Counter()
    for m in minutes:
        by_model[(m.model, "requests")] += m.requests
        by_model[(m.model, "prompt")] += m.prompt_tokens
        by_model[(m.model, "completion")] += m.completion_tokens
        assert m.errors == 0
    assert by_model == {(TINY, "requests"): 3, (TINY, "prompt"): 12, (TINY, "completion"): 10,
                        (EMBED, "requests"): 1, (EMBED, "prompt"): 3, (EMBED, "completion"): 0}

    # usage by model, key and minute through the API, and the CLI over it
    usage = world.api.admin.get("/v1/usage/inference", params={"group_by": "model", "tenant": "metered"})
    assert usage.status_code == 200, usage.text
    assert [(i["key"], i["requests"], i["prompt_tokens"], i["completion_tokens"], i["total_tokens"])
            for i in usage.json()["items"]] == [(EMBED, 1, 3, 0, 3), (TINY, 3, 12, 10, 22)]
    per_key = world.api.admin.get("/v1/usage/inference", params={"group_by": "key", "tenant": "metered"}).json()
    assert [(i["key"], i["requests"], i["total_tokens"]) for i in per_key["items"]] == [(key_id, 4, 25)]
    per_minute = world.api.admin.get("/v1/usage/inference", params={"group_by": "minute", "tenant": "metered"})
    assert sum(i["requests"] for i in per_minute.json()["items"]) == 4
    assert all(i["key"].endswith(":00Z") for i in per_minute.json()["items"])
    later = (datetime.now(UTC) + timedelta(minutes=2)).isoformat()
    assert world.api.admin.get("/v1/usage/inference", params={"group_by": "key", "tenant": "metered",
                                                               "from": later}).json()["items"] == []
    cli = world.cli("usage", "--inference", "--by", "key", "--tenant", "metered", "-o", "json")
    assert cli.returncode == 0, cli.stderr
    assert [(i["key"], i["requests"]) for i in json.loads(cli.stdout)["items"]] == [(key_id, 4)]


def test_a_tenant_sees_only_its_own_inference_usage_bad_periods_are_422_and_no_clickhouse_503(world):
    key, key_id = world.key("isolated")
    world.client(key).chat.completions.create(model=TINY, max_tokens=2, messages=[{"role": "user", "content": "hi"}])
    world.rows(key_id, 1)
    member = world.api.user("isolated", "ivy", "viewer")
    mine = member.get("/v1/usage/inference", params={"group_by": "key"}).json()
    assert mine["tenant"] == "isolated" and [i["key"] for i in mine["items"]] == [key_id]
    assert member.get("/v1/usage/inference", params={"tenant": "metered"}).status_code == 403
    bad = member.get("/v1/usage/inference", params={"from": "2026-01-01T00:00:00"})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "from"
    assert member.get("/v1/usage/inference", params={"group_by": "tenant"}).status_code == 422
    without_clickhouse = world.stack.gateway()  # another gateway replica on the same bus, no ClickHouse
    with world.stack.client(world.stack.admin_token, url=without_clickhouse.url) as admin:
        unavailable = admin.get("/v1/usage/inference", params={"group_by": "key"})
    assert unavailable.status_code == 503 and unavailable.json()["error"]["code"] == "usage_unavailable"
    cli = world.cli("usage", "--inference", "--by", "job")
    assert cli.returncode == 1 and "key, model or minute" in cli.stderr and "Traceback" not in cli.stderr


def test_refusals_are_raised_by_the_openai_client_as_its_own_errors_and_are_not_metered(world):
    hello = {"model": TINY, "max_tokens": 4, "messages": [{"role": "user", "content": "one two three"}]}
    with pytest.raises(openai.AuthenticationError) as bad_key:
        world.client("tsk-live-nope", max_retries=0).chat.completions.create(**hello)
    assert bad_key.value.status_code == 401 and bad_key.value.code == "invalid_api_key"

    key, key_id = world.key("acme", rpm=2)
    client = world.client(key, max_retries=0)
    with pytest.raises(openai.NotFoundError) as unknown:
        client.chat.completions.create(**{**hello, "model": "gpt-9"})
    assert (unknown.value.status_code, unknown.value.code, unknown.value.param) == (404, "model_not_found", "model")

    for _ in range(2):
        assert client.chat.completions.create(**hello).usage.total_tokens == 7
    with pytest.raises(openai.RateLimitError) as limited:
        client.chat.completions.create(**hello)
    assert limited.value.status_code == 429 and limited.value.code == "rate_limit_exceeded"
    assert 1 <= int(limited.value.response.headers["retry-after"]) <= 60

    # 1 per 1,000 tokens: a served request costs 0.007 and reserves 0.013 (its estimate + max_tokens) first,
    # so a budget of 0.02 serves two (0 + 0.013, 0.007 + 0.013) and refuses the third (0.014 + 0.013 > 0.02)
    poor, poor_id = world.key("acme", budget="0.02")
    poor_client = world.client(poor, max_retries=0)
    served = 0
    with pytest.raises(openai.APIStatusError) as broke:
        for _ in range(5):
            poor_client.chat.completions.create(**hello)
            served += 1
    error = broke.value
    assert error.status_code == 402 and not isinstance(error, openai.RateLimitError)
    assert set(error.body) == {"message", "type", "param", "code"}
    assert (error.body["type"], error.body["code"]) == ("insufficient_quota", "budget_exceeded")
    assert "budget" in error.body["message"] and served == 2
    assert world.call(world.proxy.proxy.limits.spent(poor_id)) == Decimal("0.014")

    # only the served requests are metered: 2 under the rate limit, `served` under the budget
    assert [e.data.status for _, e in world.records(key_id, 3, timeout=2)] == [200, 200]
    assert len(world.records(poor_id, served + 1, timeout=2)) == served
    rows = world.rows(key_id, 2)
    assert [(r[7], r[8]) for r in rows] == [(3, 4), (3, 4)]
