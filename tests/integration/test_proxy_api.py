"""The OpenAI-compatible proxy against real parts: nats-server, control plane, discovery, stand-in engines.

The official `openai` client is not installed in this environment, so requests
are made with httpx exactly as that client sends them (Bearer key, JSON body,
SSE for streams). Checked: answers passed through byte-exact, streams relayed
chunk by chunk, one usage record per request on USAGE with the engine's exact
token counts and the request id as Nats-Msg-Id, /v1/models scoped to the key,
and the OpenAI-shaped refusals (401, 404, 400 with the field path).
"""

from __future__ import annotations

import httpx
import orjson
import pytest

from bus.connection import Bus, connect
from bus.streams import ensure_streams
from schemas import identity as i
from schemas.usage import InferenceRequestRecorded
from tests.factories.control import eventually
from tests.integration.test_proxy_standin import Stack, now, usage_records

CHAT = {"model": "llama", "max_tokens": 4, "messages": [{"role": "user", "content": "one two three"}]}


@pytest.fixture
async def bus(nats_server, settings):
    nc = await connect(nats_server.url, settings)
    await ensure_streams(nc.jetstream(), settings)
    yield Bus(nc=nc, js=nc.jetstream(), settings=settings, url=nats_server.url)
    await nc.close()


@pytest.fixture
async def stack(bus):
    s = await Stack(bus).start()
    yield s
    await s.stop()


@pytest.fixture
async def served(stack):
    proxy = await stack.proxy()
    await stack.replica("llama")
    await stack.replica("minilm")
    key, key_id = await stack.api_key()
    async with httpx.AsyncClient(base_url=proxy.url, headers={"Authorization": f"Bearer {key}"}) as client:
        yield stack, client, key_id


def sse_data(text: str) -> list:
    return [line[6:] for line in text.split("\n") if line.startswith("data: ")]


async def test_a_chat_completion_is_served_and_metered_with_the_engines_token_counts(served):
    stack, client, key_id = served
    r = await client.post("/v1/chat/completions", json=CHAT)
    assert r.status_code == 200
    body = r.json()
    assert body["choices"][0]["message"]["content"] == "w0 w1 w2 w3"
    assert body["usage"] == {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}
    [(msg_id, env)] = await usage_records(stack.bus.nc, 1)
    record: InferenceRequestRecorded = env.data
    assert msg_id == record.request_id == r.headers["x-request-id"] == env.id
    assert (record.tenant, record.key_id, record.model, record.endpoint, record.outcome, record.status) == (
        "acme", key_id, "llama", "chat.completions", "ok", 200)
    assert (record.prompt_tokens, record.completion_tokens, record.estimated) == (3, 4, False)
    assert record.deployment == "dep-llama" and record.latency_ms > 0 and env.tenant == "acme"


async def test_a_streamed_chat_is_relayed_chunk_by_chunk_and_metered_from_the_usage_chunk(served):
    stack, client, _ = served
    async with client.stream("POST", "/v1/chat/completions", json={**CHAT, "stream": True}) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        text = (await r.aread()).decode()
    data = sse_data(text)
    assert data[-1] == "[DONE]"
    chunks = [orjson.loads(d) for d in data[:-1]]
    assert "".join(c["choices"][0]["delta"]["content"] for c in chunks) == "w0 w1 w2 w3"
    assert all(c["choices"] for c in chunks), "the usage-only chunk the client did not ask for is not passed on"
    [(_, env)] = await usage_records(stack.bus.nc, 1)
    assert (env.data.stream, env.data.outcome, env.data.prompt_tokens, env.data.completion_tokens) == (
        True, "ok", 3, 4)
    assert env.data.first_token_ms is not None


async def test_a_stream_that_asks_for_usage_gets_the_final_usage_chunk(served):
    _, client, _ = served
    body = {**CHAT, "stream": True, "stream_options": {"include_usage": True}}
    async with client.stream("POST", "/v1/chat/completions", json=body) as r:
        data = sse_data((await r.aread()).decode())
    last = orjson.loads(data[-2])
    assert last["choices"] == [] and last["usage"]["total_tokens"] == 7


async def test_completions_and_embeddings_are_served_and_each_request_has_one_record(served):
    stack, client, _ = served
    r = await client.post("/v1/completions", json={"model": "llama", "prompt": "a b", "max_tokens": 2})
    assert r.json()["choices"][0]["text"] == "w0 w1"
    async with client.stream("POST", "/v1/completions",
                             json={"model": "llama", "prompt": "a b", "max_tokens": 3, "stream": True}) as s:
        data = sse_data((await s.aread()).decode())
    assert "".join(orjson.loads(d)["choices"][0]["text"] for d in data[:-1]) == "w0 w1 w2"
    e = await client.post("/v1/embeddings", json={"model": "minilm", "input": ["x y", "z"]})
    assert len(e.json()["data"]) == 2
    records = {env.data.endpoint + str(env.data.stream): env.data for _, env in await usage_records(stack.bus.nc, 3)}
    assert (records["completionsFalse"].prompt_tokens, records["completionsFalse"].completion_tokens) == (2, 2)
    assert (records["completionsTrue"].prompt_tokens, records["completionsTrue"].completion_tokens) == (2, 3)
    assert (records["embeddingsFalse"].prompt_tokens, records["embeddingsFalse"].completion_tokens) == (3, 0)
    assert len(await usage_records(stack.bus.nc, 4, timeout=0.5)) == 3


async def test_models_lists_what_the_key_may_call_among_its_tenants_deployments(served):
    stack, client, _ = served
    await stack.replica("other-tenant-model", tenant="globex")
    key, _ = await stack.api_key(allowed_models=["llama"])
    assert sorted(m["id"] for m in (await client.get("/v1/models")).json()["data"]) == ["llama", "minilm"]
    r = await client.get("/v1/models", headers={"Authorization": f"Bearer {key}"})
    assert [m["id"] for m in r.json()["data"]] == ["llama"]


def openai_error(r: httpx.Response, status: int, code: str, param=None) -> dict:
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["code"] == code
    assert error["param"] == param and error["message"]
    return error


async def test_bad_keys_are_401_and_a_revoked_key_stops_working_within_a_second(served):
    stack, client, _ = served
    for auth in (None, "Bearer nope", "Bearer tsk-live-AAAAAAAAAAAA_" + "A" * 43, "Basic abc"):
        headers = {"Authorization": auth} if auth else {}
        r = await httpx.AsyncClient(base_url=str(client.base_url)).post(
            "/v1/chat/completions", json=CHAT, headers=headers)
        openai_error(r, 401, "invalid_api_key")
    key, key_id = await stack.api_key()
    ok = await client.post("/v1/chat/completions", json=CHAT, headers={"Authorization": f"Bearer {key}"})
    assert ok.status_code == 200
    await stack.command("acme", i.RevokeApiKey(key_id=key_id))
    revoked_at = now()

    async def refused():
        r = await client.get("/v1/models", headers={"Authorization": f"Bearer {key}"})
        return r.status_code == 401

    await eventually(refused, timeout=5)
    assert (now() - revoked_at).total_seconds() < 1.0


async def test_unknown_or_not_allowed_models_are_404_and_bad_bodies_400_naming_the_field(served):
    stack, client, _ = served
    openai_error(await client.post("/v1/chat/completions", json={**CHAT, "model": "gpt-9"}), 404,
                 "model_not_found", "model")
    key, _ = await stack.api_key(allowed_models=["minilm"])
    openai_error(await client.post("/v1/chat/completions", json=CHAT, headers={"Authorization": f"Bearer {key}"}),
                 404, "model_not_found", "model")
    openai_error(await client.post("/v1/chat/completions", json={"model": "llama"}), 400, "missing", "messages")
    openai_error(await client.post("/v1/chat/completions", json={**CHAT, "messages": [{"content": "x"}]}),
                 400, "missing", "messages[0].role")
    openai_error(await client.post("/v1/chat/completions", json={**CHAT, "max_tokens": -1}), 400,
                 "invalid_value", "max_tokens")
    openai_error(await client.post("/v1/chat/completions", content=b"{not json"), 400, "invalid_json")
    openai_error(await client.post("/v1/embeddings", json={"model": "minilm", "input": [{"x": 1}]}), 400,
                 "invalid_type", "input[0]")
    assert await usage_records(stack.bus.nc, 1, timeout=0.3) == [], "refused requests are not metered"


async def test_the_bare_hot_path_leaves_docs_health_and_unknown_urls_to_the_app_behind_it(served):
    _, client, _ = served
    assert (await client.get("/healthz")).json()["status"] == "ok"
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert {"/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/models"} <= set(paths)
    openai_error(await client.get("/v1/nothing-here"), 404, "unknown_url")
    assert (await client.get("/v1/chat/completions")).status_code == 405
    big = {**CHAT, "messages": [{"role": "user", "content": "x" * 9_000_000}]}
    openai_error(await client.post("/v1/chat/completions", json=big), 413, "request_too_large")
