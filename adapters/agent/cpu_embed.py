"""The embeddings server of the CPU engine: OpenAI's /v1/embeddings over all-MiniLM-L6-v2 (minilm.py).

POST /v1/embeddings {"model", "input": str | [str, ...], "encoding_format"?: "float" | "base64"}
answers {"object": "list", "data": [{"object": "embedding", "index", "embedding"}], "model",
"usage": {"prompt_tokens", "total_tokens"}}; GET /v1/models lists the one model.
Refusals use OpenAI's error body {"error": {"message", "type", "param", "code"}}:
another model is 404 `model_not_found`; an empty, non-string or oversized
input is 400 naming `input` (texts past 256 tokens are truncated, as
sentence-transformers does). One batch runs at a time, in a worker thread.
"""

from __future__ import annotations

import asyncio
import base64

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from adapters.agent.minilm import MiniLM

MAX_INPUTS = 2048
MAX_CHARS = 100_000


def _error(status: int, message: str, param: str | None, code: str) -> JSONResponse:
    kind = "invalid_request_error" if status == 400 else "not_found_error"
    return JSONResponse({"error": {"message": message, "type": kind, "param": param, "code": code}}, status)


def create_app(model: str, encoder: MiniLM) -> FastAPI:
    app = FastAPI()
    lock = asyncio.Lock()

    @app.get("/v1/models")
    async def models() -> dict:
        return {"object": "list", "data": [{"id": model, "object": "model", "created": 0, "owned_by": "tessera"}]}

    @app.post("/v1/embeddings")
    async def embeddings(request: Request):
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "the body is not JSON", None, "invalid_json")
        if not isinstance(body, dict):
            return _error(400, "the body must be a JSON object", None, "invalid_request")
        if body.get("model") != model:
            return _error(404, f"The model `{body.get('model')}` does not exist.", "model", "model_not_found")
        texts = body.get("input")
        texts = [texts] if isinstance(texts, str) else texts
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) and t for t in texts):
            return _error(400, "input must be a non-empty string or a non-empty list of non-empty strings",
                          "input", "invalid_input")
        if len(texts) > MAX_INPUTS or any(len(t) > MAX_CHARS for t in texts):
            return _error(400, f"input takes at most {MAX_INPUTS} texts of at most {MAX_CHARS} characters",
                          "input", "input_too_large")
        encoding = body.get("encoding_format") or "float"
        if encoding not in ("float", "base64"):
            return _error(400, "encoding_format must be 'float' or 'base64'", "encoding_format", "invalid_value")
        async with lock:
            vectors, tokens = await asyncio.to_thread(encoder.embed, texts)
        data = [{"object": "embedding", "index": i,
                 "embedding": base64.b64encode(v.tobytes()).decode() if encoding == "base64" else v.tolist()}
                for i, v in enumerate(vectors)]
        return {"object": "list", "data": data, "model": model,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}

    return app
