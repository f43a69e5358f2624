"""The access log: one line per request, and never a credential.

`method path status duration client` on logger `tessera.gateway.access`. The
path is logged without its query string and no header is ever read here, so
neither the Authorization header nor a token pasted into a URL reaches the
log (S3). uvicorn's own access log is turned off by the runtime.
"""

from __future__ import annotations

import logging
import time

log = logging.getLogger("tessera.gateway.access")


class AccessLog:
    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        status = 500

        async def sending(message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            client = scope.get("client")
            log.info("%s %s %s %.1fms %s", scope["method"], scope["path"], status,
                     (time.perf_counter() - started) * 1000, client[0] if client else "-")
