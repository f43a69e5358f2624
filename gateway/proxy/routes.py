"""The OpenAI-compatible routes, as a router any FastAPI app can include (the gateway's, or the proxy's own).

GET /v1/models, POST /v1/chat/completions, /v1/completions, /v1/embeddings.
Self-contained: authentication (API keys, not platform tokens) and errors are
handled here, so the answers are OpenAI-shaped whatever app hosts the router.
An unexpected failure answers 500 `server_error` (logged with the request id
path, no stack trace to the client).
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from starlette.responses import Response

from gateway.proxy.errors import ProxyError
from gateway.proxy.handler import Proxy

log = logging.getLogger("tessera.proxy")
ERRORS = {status: {"description": text} for status, text in {
    400: "invalid request body (`param` names the field)", 401: "missing, unknown, expired or revoked API key",
    402: "the key's budget cannot cover the request", 404: "model unknown or not allowed for this key",
    413: "body too large", 429: "the key's per-minute limit is reached (see Retry-After)",
    503: "no healthy replica of the model"}.items()}
# Documented, not declared as a parameter: FastAPI would parse and validate it with the host app's error shape.
OPENAI_BODY = {"requestBody": {"required": True, "description": "An OpenAI API request body; `model` is required",
                               "content": {"application/json": {"schema": {"type": "object"}}}}}


def router(proxy: Proxy) -> APIRouter:
    r = APIRouter(tags=["inference"], responses=ERRORS)

    @r.get("/v1/models", summary="The models this API key can call")
    async def models(request: Request) -> Response:
        return await _answer(request, lambda: _sync(proxy.models(request)))

    @r.post("/v1/chat/completions", openapi_extra=OPENAI_BODY,
            summary="Chat completion (stream: true answers Server-Sent Events)")
    async def chat(request: Request) -> Response:
        return await _answer(request, lambda: proxy.serve("chat.completions", request))

    @r.post("/v1/completions", openapi_extra=OPENAI_BODY,
            summary="Text completion (stream: true answers Server-Sent Events)")
    async def completions(request: Request) -> Response:
        return await _answer(request, lambda: proxy.serve("completions", request))

    @r.post("/v1/embeddings", openapi_extra=OPENAI_BODY, summary="Embeddings")
    async def embeddings(request: Request) -> Response:
        return await _answer(request, lambda: proxy.serve("embeddings", request))

    return r


async def _sync(value):
    return value


async def _answer(request: Request, call) -> Response:
    try:
        return await call()
    except ProxyError as exc:
        return exc.response()
    except Exception:
        log.exception("%s %s failed", request.method, request.url.path)
        return ProxyError("the proxy failed to handle the request").response()
