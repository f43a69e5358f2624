"""A GPU-less stand-in for `vllm serve`: the same command line, HTTP endpoints and metric names.

    python -m adapters.agent.standin serve MODEL --host H --port P
        [--enable-force-include-usage] [--token-delay S] [--startup-delay S]

Serves what the agent and the proxy use of vLLM's OpenAI server:
GET /health, GET /v1/models, POST /v1/chat/completions and /v1/completions
(JSON, or SSE with `stream: true`: `data: {chunk}` lines, a last chunk with
`usage` when `stream_options.include_usage` or the force flag asks for it,
then `data: [DONE]`), and GET /metrics with `vllm:num_requests_running` (the
requests in flight), `vllm:num_requests_waiting` (0) and
`vllm:kv_cache_usage_perc`. Answers are deterministic: "echo: <last prompt
words>" one word per token, `max_tokens` at most; tokens = whitespace words.
An unknown `model` gets vLLM's 404 error body. `--startup-delay` sleeps before
listening, like weights loading; `--token-delay` paces tokens so tests can
see load while a request runs. Not for production: it generates nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid

import orjson
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse

from adapters.agent.metrics import render


def create_app(model: str, *, force_usage: bool = False, token_delay: float = 0.0) -> FastAPI:
    app = FastAPI()
    inflight = [0]

    def missing(name: str) -> JSONResponse:
        return JSONResponse({"object": "error", "message": f"The model `{name}` does not exist.",
                             "type": "NotFoundError", "param": None, "code": 404}, status_code=404)

    @app.get("/health")
    async def health() -> PlainTextResponse:
        return PlainTextResponse("")

    @app.get("/metrics")
    async def metrics() -> PlainTextResponse:
        return PlainTextResponse(render(inflight[0], 0, min(inflight[0] / 64, 1.0), model))

    @app.get("/v1/models")
    async def models() -> dict:
        return {"object": "list", "data": [{"id": model, "object": "model", "created": 0, "owned_by": "vllm",
                                            "root": model, "max_model_len": 2048}]}

    async def generate(request: Request, chat: bool):
        body = await request.json()
        if body.get("model") != model:
            return missing(str(body.get("model")))
        if chat:
            prompt = " ".join(str(m.get("content", "")) for m in body.get("messages", []))
        else:
            prompt = str(body.get("prompt", ""))
        words = ["echo:", *prompt.split()][: int(body.get("max_tokens") or 16)]
        usage = {"prompt_tokens": len(prompt.split()), "completion_tokens": len(words),
                 "total_tokens": len(prompt.split()) + len(words)}
        ident, created = f"{'chatcmpl' if chat else 'cmpl'}-{uuid.uuid4().hex}", int(time.time())
        kind = "chat.completion" if chat else "text_completion"
        include = force_usage or bool((body.get("stream_options") or {}).get("include_usage"))

        def choice(text: str, finish: str | None, delta: bool) -> dict:
            if not chat:
                return {"index": 0, "text": text, "logprobs": None, "finish_reason": finish}
            content = {"role": "assistant", "content": text}
            return {"index": 0, ("delta" if delta else "message"): content, "logprobs": None,
                    "finish_reason": finish}

        if not body.get("stream"):
            inflight[0] += 1
            try:
                await asyncio.sleep(token_delay * len(words))
            finally:
                inflight[0] -= 1
            return {"id": ident, "object": kind, "created": created, "model": model,
                    "choices": [choice(" ".join(words), "stop", False)],
                    "usage": usage}

        async def events():
            inflight[0] += 1
            try:
                chunk = {"id": ident, "object": f"{kind}.chunk" if chat else kind, "created": created, "model": model}
                for n, word in enumerate(words):
                    await asyncio.sleep(token_delay)
                    last = "stop" if n == len(words) - 1 else None
                    yield b"data: " + orjson.dumps({**chunk, "choices": [choice(word + " ", last, True)]}) + b"\n\n"
                if include:
                    yield b"data: " + orjson.dumps({**chunk, "choices": [], "usage": usage}) + b"\n\n"
                yield b"data: [DONE]\n\n"
            finally:
                inflight[0] -= 1

        return StreamingResponse(events(), media_type="text/event-stream")

    @app.post("/v1/chat/completions")
    async def chat(request: Request):
        return await generate(request, chat=True)

    @app.post("/v1/completions")
    async def completions(request: Request):
        return await generate(request, chat=False)

    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="standin", description=__doc__.splitlines()[0])
    parser.add_argument("serve", choices=["serve"])
    parser.add_argument("model")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--enable-force-include-usage", action="store_true")
    parser.add_argument("--token-delay", type=float, default=0.0)
    parser.add_argument("--startup-delay", type=float, default=0.0)
    args, _ignored = parser.parse_known_args(argv)  # vLLM flags the stand-in has no use for
    time.sleep(args.startup_delay)
    app = create_app(args.model, force_usage=args.enable_force_include_usage, token_delay=args.token_delay)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
