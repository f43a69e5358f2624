"""The real CPU engine end to end: agent -> discovery -> proxy -> the official `openai` client -> metering.

Two `tessera agent` processes with `--engine cpu` (SmolLM2-135M-Instruct through
llama-cpp-python, all-MiniLM-L6-v2 in NumPy) register in discovery as platform
replicas; the module's stack (test_inference_openai.World: nats-server, control
plane, gateway with chdb, proxy, USAGE projection) routes a real chat completion
and a real embedding to them, and each request is metered with the engine's own
token counts: one USAGE record and one `inference_requests` row. Needs the
`cpu-engine` extra; without it the test skips with that reason.
"""

from __future__ import annotations

import contextlib
import signal

import numpy as np
import pytest

from tests.e2e.conftest import eventually
from tests.e2e.test_inference_openai import world  # noqa: F401  (the module's stack)
from tests.integration.test_agent import finish, start_agent
from tests.integration.test_agent_cpu import CHAT, EMBED, _installed

pytestmark = pytest.mark.skipif(not (_installed(CHAT) and _installed(EMBED)),
                                reason="cpu-engine extra not installed (scripts/bootstrap test,cpu-engine)")


@pytest.fixture(scope="module")
def cpu_replicas(world):  # noqa: F811
    url = world.stack.nats_url
    procs = [start_agent(url, "--startup-timeout", "120", engine="cpu", model=CHAT, deployment="smol",
                         tenant="_platform"),
             start_agent(url, "--startup-timeout", "120", engine="cpu", model=EMBED, deployment="mini",
                         tenant="_platform")]
    try:
        def routable() -> bool:
            if any(p.poll() is not None for p in procs):
                raise AssertionError("an agent exited: " + " | ".join(finish(p, 1)[1] for p in procs
                                                                       if p.poll() is not None))
            return {CHAT, EMBED} <= {r.entry.model for r in world.proxy.proxy.replicas._by_key.values()}
        eventually(routable, timeout=150, interval=0.5)
        yield procs
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
            with contextlib.suppress(Exception):
                finish(p, 30)


@pytest.mark.slow
def test_a_real_chat_completion_and_embedding_through_the_proxy_are_metered(world, cpu_replicas):  # noqa: F811
    key, key_id = world.key("cpu")
    client = world.client(key, max_retries=0)
    assert {CHAT, EMBED} <= {m.id for m in client.models.list()}

    chat = client.chat.completions.create(model=CHAT, max_tokens=12, temperature=0,
                                          messages=[{"role": "user", "content": "What is the capital of France?"}])
    assert chat.choices[0].message.role == "assistant" and chat.choices[0].message.content.strip()
    assert chat.usage.prompt_tokens > 5 and 0 < chat.usage.completion_tokens <= 12

    texts = ["A cat sits on the mat.", "A kitten is lying on a rug.", "The central bank raised interest rates."]
    embedded = client.embeddings.create(model=EMBED, input=texts)
    vectors = np.array([d.embedding for d in sorted(embedded.data, key=lambda d: d.index)])
    assert vectors.shape == (3, 384) and vectors[0] @ vectors[1] > 0.5 > vectors[0] @ vectors[2]
    assert embedded.usage.prompt_tokens > 15

    records = {e.data.model: e.data for _, e in world.records(key_id, 2)}
    assert set(records) == {CHAT, EMBED}
    assert (records[CHAT].prompt_tokens, records[CHAT].completion_tokens, records[CHAT].estimated) == (
        chat.usage.prompt_tokens, chat.usage.completion_tokens, False)
    assert (records[EMBED].prompt_tokens, records[EMBED].completion_tokens) == (embedded.usage.prompt_tokens, 0)
    assert {(r.deployment, r.tenant, r.outcome) for r in records.values()} == {("smol", "cpu", "ok"),
                                                                               ("mini", "cpu", "ok")}
    rows = world.rows(key_id, 2)
    assert sorted((r[2], r[7], r[8]) for r in rows) == sorted(
        (r.model, r.prompt_tokens, r.completion_tokens) for r in records.values())
