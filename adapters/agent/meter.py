"""An ASGI layer that gives any OpenAI server the agent's /health and a vLLM-named /metrics.

Requests to /v1/* are counted while they run (a streamed answer until its last
chunk). The servers behind it answer one request at a time (llama-cpp-python
holds a lock per model; the embeddings server runs one batch at a time), so
of `n` in flight, min(n, parallel) are "running" and the rest "waiting":
the same meaning vLLM's gauges have. /health answers 200 once the wrapped app
exists, i.e. after the model loaded.
"""

from __future__ import annotations

from adapters.agent.metrics import render


class Metered:
    def __init__(self, app, model: str, *, parallel: int = 1) -> None:
        self.app, self.model, self.parallel = app, model, parallel
        self.inflight = 0

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope["path"]
        if path == "/health":
            return await _text(send, "")
        if path == "/metrics":
            running = min(self.inflight, self.parallel)
            return await _text(send, render(running, self.inflight - running, 0.0, self.model))
        if not path.startswith("/v1/"):
            return await self.app(scope, receive, send)
        self.inflight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.inflight -= 1


async def _text(send, body: str) -> None:
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain; version=0.0.4; charset=utf-8")]})
    await send({"type": "http.response.body", "body": body.encode()})
