"""`tessera proxy`: the OpenAI-compatible inference proxy on its own (scale-out: run as many as needed).

Connects to the platform's NATS (TESSERA_NATS_URL, or the embedded server of a
running `tessera up` on the same TESSERA_HOME; it never starts one), serves
until SIGINT/SIGTERM, then drains its usage records. Every proxy shares the
key limits and budgets through JetStream KV, so replicas need no coordination.
"""

from __future__ import annotations

import asyncio
import signal

import typer


def proxy(
    host: str = typer.Option(None, "--host", help="Listen address (default: [proxy] host, 127.0.0.1)."),
    port: int = typer.Option(None, "--port", help="Listen port (default: [proxy] port, 8471; 0 = any free)."),
    duration: float = typer.Option(None, "--for", help="Stop after this many seconds (default: until Ctrl-C)."),
) -> None:
    """Serve the OpenAI-compatible API (/v1/models, chat/completions, completions, embeddings) with API keys."""
    from bus.errors import BusError
    from bus.settings import Settings
    from gateway.proxy.settings import ProxySettings

    settings = Settings.load()
    if settings.embedded and not (settings.home / "nats" / "server.json").exists():
        raise BusError(f"no Tessera is running on {settings.home}: start it with `tessera up`, "
                       "or point TESSERA_NATS_URL at the platform's NATS")
    asyncio.run(_run(settings, ProxySettings.load(), host, port, duration))
    typer.echo("tessera: proxy stopped cleanly")


async def _run(settings, proxy_settings, host, port, duration) -> None:
    from bus.connection import open_bus
    from gateway.proxy.app import ProxyRuntime

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    bus = await open_bus(settings, name="tessera-proxy", provision=False)
    bus.server = None  # the platform's embedded server: never ours to stop
    runtime = ProxyRuntime(bus, proxy_settings)
    try:
        await runtime.start()
        url = await runtime.serve(host, port)
        typer.echo(f"tessera: inference proxy {url}/v1 (OpenAI-compatible; Ctrl-C stops it)")
        try:
            await asyncio.wait_for(stop.wait(), duration)
        except TimeoutError:
            pass
    finally:
        await runtime.stop()
        await bus.close()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
