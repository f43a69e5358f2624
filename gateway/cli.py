"""The `tessera` command. Every user-facing failure is one line on stderr and exit code 1."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from dataclasses import asdict
from enum import Enum
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from bus.errors import BusError
from bus.settings import Settings

app = typer.Typer(help="Tessera: an event-sourced control plane for GPU clouds.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False)
schemas_app = typer.Typer(help="The wire contract: message schemas.", no_args_is_help=True)
app.add_typer(schemas_app, name="schemas")
out = Console()


class Output(str, Enum):
    table = "table"
    json = "json"


def _settings() -> Settings:
    return Settings.load()


def _logging() -> None:
    level = os.environ.get("TESSERA_LOG_LEVEL", "WARNING").upper()
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@app.command()
def up(
    duration: float = typer.Option(None, "--for", help="Stop after this many seconds (default: until Ctrl-C)."),
) -> None:
    """Start the platform: the embedded bus (or TESSERA_NATS_URL), streams provisioned, a status line."""
    from gateway.platform import run_platform, status_line

    settings = _settings()

    def report(bus, streams) -> None:
        out.print(status_line(bus, streams))
        out.print(_stream_table(streams))
        out.print("[dim]Ctrl-C stops the platform.[/dim]" if duration is None else f"[dim]up for {duration:g}s[/dim]")

    asyncio.run(run_platform(settings, duration=duration, report=report))
    out.print("tessera: stopped cleanly")


@app.command()
def status(output: Output = typer.Option(Output.table, "--output", "-o", help="table or json")) -> None:
    """Show the bus and its streams (connects to the running platform; starts nothing)."""
    from bus.connection import open_bus, redact
    from gateway.platform import status_line, stream_status

    settings = _settings()
    if settings.embedded and not (settings.home / "nats" / "server.json").exists():
        raise BusError(f"no Tessera is running on {settings.home}: start it with `tessera up`")

    async def run():
        bus = await open_bus(settings, name="tessera-status", provision=False)
        try:
            return bus, await stream_status(bus)
        finally:
            bus.server = None  # reused, never ours to stop
            await bus.close()

    bus, streams = asyncio.run(run())
    if output is Output.json:
        print(json.dumps({"url": redact(bus.url), "streams": [asdict(s) for s in streams]}, indent=2))
    else:
        out.print(status_line(bus, streams))
        out.print(_stream_table(streams))


@schemas_app.command("export")
def schemas_export(directory: Path = typer.Argument(..., help="Where to write one JSON Schema per message type.")) -> None:
    """Write one JSON Schema file per message type."""
    import schemas.catalog  # noqa: F401  (registers every wire type)
    from schemas.export import export_json_schemas

    written = export_json_schemas(directory)
    out.print(f"wrote {len(written)} schemas to {directory}")


def _stream_table(streams) -> Table:
    table = Table("stream", "subjects", "messages", "bytes", "last seq", "replicas")
    for s in streams:
        table.add_row(s.name, " ".join(s.subjects), str(s.messages), str(s.bytes), str(s.last_seq), str(s.replicas))
    return table


def main() -> None:
    _logging()
    try:
        app()
    except BusError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
