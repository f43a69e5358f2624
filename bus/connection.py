"""Connecting to NATS: the embedded server or the configured URL/cluster.

`open_bus(settings)` is the composition root's one call: it starts (or reuses)
the embedded server when no URL is configured, connects with the configured
credentials and TLS, provisions the streams, and returns a `Bus` to close.
"""

from __future__ import annotations

import asyncio
import re
import ssl
from dataclasses import dataclass

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext

from bus.errors import ConnectError
from bus.server import EmbeddedServer
from bus.settings import Settings


def redact(url: str) -> str:
    """The URL(s) with any user info hidden: safe for messages and logs."""
    return re.sub(r"//[^/@,]+@", "//***@", url)


@dataclass
class Bus:
    nc: Client
    js: JetStreamContext
    settings: Settings
    url: str
    server: EmbeddedServer | None = None

    async def close(self) -> None:
        if not self.nc.is_closed:
            await self.nc.drain()
        if self.server:
            self.server.stop()


def _tls(settings: Settings) -> ssl.SSLContext | None:
    if not (settings.tls_ca or settings.tls_cert):
        return None
    ctx = ssl.create_default_context(cafile=settings.tls_ca)
    if settings.tls_cert:
        ctx.load_cert_chain(settings.tls_cert, settings.tls_key)
    return ctx


async def connect(url: str, settings: Settings, *, name: str = "tessera", timeout: float = 5.0, **options) -> Client:
    async def _quiet(_exc: Exception) -> None:  # nats-py logs each failed attempt otherwise
        return None

    opts = dict(
        servers=url.split(","),
        name=name,
        user_credentials=settings.nats_creds,
        user=settings.nats_user,
        password=settings.nats_password,
        token=settings.nats_token,
        tls=_tls(settings),
        connect_timeout=2,
        allow_reconnect=True,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.2,
        error_cb=_quiet,
    )
    opts.update(options)
    try:
        # nats-py keeps retrying an unreachable first server when reconnects are allowed: bound it
        return await asyncio.wait_for(nats.connect(**{k: v for k, v in opts.items() if v is not None}), timeout)
    except asyncio.TimeoutError:
        raise ConnectError(
            f"cannot connect to NATS at {redact(url)} (no answer within {timeout:g}s): "
            "check TESSERA_NATS_URL, or unset it to run the embedded server"
        ) from None
    except Exception as exc:  # nats-py raises several unrelated types for "nobody there"
        raise ConnectError(
            f"cannot connect to NATS at {redact(url)} ({type(exc).__name__}: {exc or 'no servers available'}): "
            "check TESSERA_NATS_URL, or unset it to run the embedded server"
        ) from None


async def open_bus(settings: Settings, *, name: str = "tessera", provision: bool = True) -> Bus:
    from bus.streams import ensure_streams

    server = None
    url = settings.nats_url
    if settings.embedded:
        server = EmbeddedServer(settings.home, port=settings.nats_port, sync_always=settings.sync_always)
        url = server.start()
    try:
        nc = await connect(url, settings, name=name)
    except ConnectError:
        if server:
            server.stop()
        raise
    js = nc.jetstream(timeout=settings.publish_timeout)
    bus = Bus(nc=nc, js=js, settings=settings, url=url, server=server)
    if provision:
        await ensure_streams(js, settings)
    return bus
