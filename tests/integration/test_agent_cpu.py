"""The CPU engine for real: SmolLM2-135M (llama-cpp-python) and all-MiniLM-L6-v2 behind `tessera agent`.

Each model runs as a replica agent against a real nats-server; requests go to
the URL the agent registered in discovery, as the proxy sends them. Needs the
`cpu-engine` extra (`scripts/bootstrap test,cpu-engine`); without it these
tests skip with that reason.
"""

from __future__ import annotations

import signal

import httpx
import numpy as np
import pytest

from adapters.agent.cpu import CpuEngine
from adapters.agent.engine import EngineError
from bus.discovery import open_registry
from tests.factories.control import eventually
from tests.integration.test_agent import finish, start_agent

CHAT, EMBED = "HuggingFaceTB/SmolLM2-135M-Instruct", "sentence-transformers/all-MiniLM-L6-v2"


def _installed(model: str) -> bool:
    try:
        CpuEngine().check(model, [])
    except EngineError:
        return False
    return True


needs = pytest.mark.skipif(not (_installed(CHAT) and _installed(EMBED)),
                           reason="cpu-engine extra not installed (scripts/bootstrap test,cpu-engine)")


async def _serve(nats_url: str, registry, model: str, replica: int):
    proc = start_agent(nats_url, "--startup-timeout", "120", engine="cpu", model=model, replica=replica)
    try:
        found = await eventually(lambda: registry.get(f"acme.d1.{replica}.1"), timeout=150, interval=0.2)
    except AssertionError:
        proc.kill()
        raise AssertionError(finish(proc)[1]) from None
    return proc, found


@needs
@pytest.mark.slow
async def test_smollm2_answers_a_chat_completion_through_its_registered_url(nats_server, nc):
    registry = await open_registry(nc.jetstream())
    proc, found = await _serve(nats_server.url, registry, CHAT, 0)
    try:
        assert (found.engine, found.model) == ("cpu", CHAT)
        async with httpx.AsyncClient(base_url=found.url, timeout=120) as http:
            assert [m["id"] for m in (await http.get("/v1/models")).json()["data"]] == [CHAT]
            answer = (await http.post("/v1/chat/completions", json={
                "model": CHAT, "max_tokens": 12, "temperature": 0,
                "messages": [{"role": "user", "content": "What is the capital of France?"}]})).json()
        assert answer["choices"][0]["message"]["role"] == "assistant"
        assert answer["choices"][0]["message"]["content"].strip()
        assert 0 < answer["usage"]["completion_tokens"] <= 12 and answer["usage"]["prompt_tokens"] > 5
        proc.send_signal(signal.SIGTERM)
        assert finish(proc, 30)[0] == 0
        assert await registry.get("acme.d1.0.1") is None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@needs
@pytest.mark.slow
async def test_minilm_embeds_texts_so_that_similar_meanings_are_close(nats_server, nc):
    registry = await open_registry(nc.jetstream())
    proc, found = await _serve(nats_server.url, registry, EMBED, 1)
    try:
        texts = ["A cat sits on the mat.", "A kitten is lying on a rug.", "The central bank raised interest rates."]
        async with httpx.AsyncClient(base_url=found.url, timeout=60) as http:
            answer = (await http.post("/v1/embeddings", json={"model": EMBED, "input": texts})).json()
            wrong = await http.post("/v1/embeddings", json={"model": EMBED, "input": []})
            other = await http.post("/v1/embeddings", json={"model": "nope", "input": "x"})
        vectors = np.array([d["embedding"] for d in sorted(answer["data"], key=lambda d: d["index"])])
        assert vectors.shape == (3, 384) and np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
        similar, unrelated = vectors[0] @ vectors[1], vectors[0] @ vectors[2]
        assert similar > 0.5 and unrelated < 0.2 and answer["usage"]["prompt_tokens"] > 15
        assert wrong.status_code == 400 and wrong.json()["error"]["param"] == "input"
        assert other.status_code == 404 and other.json()["error"]["code"] == "model_not_found"
        proc.send_signal(signal.SIGTERM)
        assert finish(proc, 30)[0] == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_cpu_engine_refuses_models_it_cannot_serve():
    with pytest.raises(EngineError, match="serves SmolLM2-135M-Instruct, all-MiniLM-L6-v2 or a .gguf path"):
        CpuEngine().check("meta-llama/Llama-3.1-8B-Instruct", [])
    with pytest.raises(EngineError, match="no GGUF file at /nonexistent/m.gguf"):
        CpuEngine().check("/nonexistent/m.gguf", [])


@pytest.mark.skipif(not _installed(EMBED), reason="cpu-engine extra not installed (scripts/bootstrap test,cpu-engine)")
def test_minilm_in_numpy_matches_sentence_transformers_reference_values():
    from adapters.agent.minilm import MiniLM, model_dir

    vectors, tokens = MiniLM(model_dir()).embed(["This is an example sentence", "Each sentence is converted"])
    # sentence-transformers' all-MiniLM-L6-v2 output for the model card's example (first five dimensions)
    assert np.allclose(vectors[0][:5], [0.0677, 0.0635, 0.0487, 0.0793, 0.0374], atol=5e-4)
    assert tokens == 7 + 6 and abs(float(vectors[0] @ vectors[1]) - 0.4046) < 1e-3
