"""The proxy's hot path as a bare ASGI app; everything else falls through to the FastAPI app (docs, /healthz, 404).

POST /v1/chat/completions, /v1/completions, /v1/embeddings and GET /v1/models
go straight to `Proxy` with an `Incoming` request: no routing table walk, no
dependency injection, no body validation beyond what bodies.py checks (the
FastAPI router in routes.py documents the same routes in /openapi.json and
serves them in any other app that includes it, with identical answers).
Errors are answered as in routes.py: a ProxyError as its OpenAI-shaped body,
anything unexpected as 500 `server_error`, logged, no stack trace to the client.
"""

from __future__ import annotations

import logging

from gateway.proxy.errors import ProxyError
from gateway.proxy.handler import Proxy
from gateway.proxy.serving import HOOKS

log = logging.getLogger("tessera.proxy")
ENDPOINTS = {"/v1/chat/completions": "chat.completions", "/v1/completions": "completions",
             "/v1/embeddings": "embeddings"}


class ClientGone(ProxyError):
    status, code = 499, "client_closed_request"


class Incoming:
    """The part of a Starlette Request the handler reads: headers (lower-case names), body(), receive.

    `disconnect_hooks`: the server's list of callables run when the client goes
    away (serving.py), or None when the server offers none.
    """

    __slots__ = ("_body", "disconnect_hooks", "headers", "receive")

    def __init__(self, scope, receive) -> None:
        self.headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        self.receive = receive
        extensions = scope.get("extensions")
        self.disconnect_hooks = extensions.get(HOOKS) if extensions else None
        self._body: bytes | None = None

    async def body(self) -> bytes:
        if self._body is None:
            message = await self.receive()
            chunks = [message.get("body", b"")]
            while message.get("more_body"):
                message = await self.receive()
                if message["type"] == "http.disconnect":
                    raise ClientGone("the client went away while sending its body")
                chunks.append(message.get("body", b""))
            if message["type"] == "http.disconnect":
                raise ClientGone("the client went away while sending its body")
            self._body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        return self._body


class ProxyApp:
    def __init__(self, proxy: Proxy, fallback) -> None:
        self.proxy = proxy
        self.fallback = fallback

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            path, method = scope["path"], scope["method"]
            endpoint = ENDPOINTS.get(path)
            if endpoint is not None and method == "POST":
                await self._answer(scope, receive, send, endpoint)
                return
            if path == "/v1/models" and method == "GET":
                await self._answer(scope, receive, send, None)
                return
        await self.fallback(scope, receive, send)

    async def _answer(self, scope, receive, send, endpoint: str | None) -> None:
        request = Incoming(scope, receive)
        try:
            if endpoint is None:
                response = self.proxy.models(request)
            else:
                response = await self.proxy.serve(endpoint, request)
        except ProxyError as exc:
            response = exc.response()
        except Exception:
            log.exception("%s %s failed", scope["method"], scope["path"])
            response = ProxyError("the proxy failed to handle the request").response()
        await response(scope, receive, send)
