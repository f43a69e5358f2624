"""`tessera billing`: the billing consumer on its own (bus/billing/consumer.py has the guarantees).

Connects to the platform's NATS (TESSERA_NATS_URL, or the embedded server of a
running `tessera up` on the same TESSERA_HOME; it never starts one), bills
USAGE into invoices on EVT exactly once and finalizes invoices at period end
+ grace, until SIGINT/SIGTERM (or `--for` seconds). Several may run: the
tracking record's expected sequence lets one write each batch; the others
re-read and move on. Exit 2 for bad options or no platform to join.
"""

from __future__ import annotations

import asyncio
import signal

import typer


def billing(
    period: str = typer.Option(None, "--period", help="monthly (default), weekly or daily [TESSERA_BILLING_PERIOD]."),
    grace: float = typer.Option(None, "--grace", min=0, help="Seconds after period end before finalizing "
                                "(default 3 days) [TESSERA_BILLING_GRACE_S]."),
    duration: float = typer.Option(None, "--for", help="Stop after this many seconds (default: until Ctrl-C)."),
) -> None:
    """Run the billing consumer: usage -> invoices per tenant per period, exactly once."""
    from bus.billing import BillingSettings
    from bus.errors import ConfigError
    from bus.settings import Settings
    from gateway.commands.common import stderr

    try:
        settings = Settings.load()
        billing_settings = BillingSettings.load(period=period, grace_s=grace)
    except ConfigError as exc:
        stderr.print(f"error: {exc}", markup=False, soft_wrap=True)
        raise typer.Exit(2) from None
    if settings.embedded and not (settings.home / "nats" / "server.json").exists():
        stderr.print(f"error: no Tessera is running on {settings.home}: start it with `tessera up`, "
                     "or point TESSERA_NATS_URL at the platform's NATS", markup=False, soft_wrap=True)
        raise typer.Exit(2)
    asyncio.run(_run(settings, billing_settings, duration))
    typer.echo("tessera: billing stopped cleanly")


async def _run(settings, billing_settings, duration) -> None:
    from bus.billing import BillingService
    from bus.connection import open_bus

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    bus = await open_bus(settings, name="tessera-billing", provision=False)
    bus.server = None  # the platform's embedded server: never ours to stop
    service = BillingService(bus.nc, billing_settings)
    try:
        await service.start()
        typer.echo(f"tessera: billing ({billing_settings.period}, grace {billing_settings.grace_s:g}s); "
                   "Ctrl-C stops it")
        try:
            await asyncio.wait_for(stop.wait(), duration)
        except TimeoutError:
            pass
    finally:
        await service.stop()
        await bus.close()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
