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
from gateway.commands import register as register_client_commands

app = typer.Typer(help="Tessera: an event-sourced control plane for GPU clouds.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False)
schemas_app = typer.Typer(help="The wire contract: message schemas.", no_args_is_help=True)
app.add_typer(schemas_app, name="schemas")
register_client_commands(app)  # login, tenants, users, tokens, clusters, nodes, jobs, workflows, usage, audit, dry-run
out = Console()


class Output(str, Enum):
    table = "table"
    json = "json"


def _settings() -> Settings:
    return Settings.load()


def _logging() -> None:
    level = os.environ.get("TESSERA_LOG_LEVEL", "WARNING").upper()
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


DEMO_FLEET = Path(__file__).resolve().parents[1] / "deploy" / "demo" / "fleet.yaml"
DEMO_WORKFLOW = DEMO_FLEET.with_name("workflow.yaml")
DEMO_RATECARD = DEMO_FLEET.with_name("ratecard.yaml")


@app.command()
def up(
    duration: float = typer.Option(None, "--for", help="Stop after this many seconds (default: until Ctrl-C)."),
    demo: bool = typer.Option(False, "--demo", help="Also run the simulated GPU fleet of deploy/demo/fleet.yaml and "
                              "the demo workflow (real processes on the local cluster, GPU jobs on the fleet)."),
    fleet: Path = typer.Option(None, "--fleet", help="A simulator fleet spec (YAML/JSON) to run alongside.",
                               exists=True, dir_okay=False),
    host: str = typer.Option(None, "--host", help="Gateway address (default: [gateway] host, 127.0.0.1)."),
    port: int = typer.Option(None, "--port", help="Gateway port (default: [gateway] port, 8470; 0 = any free)."),
    local: bool = typer.Option(True, "--local/--no-local", help="Run this host as the `local` cluster."),
) -> None:
    """Start the platform: bus, control plane, projections, HTTP gateway, compute backends (Ctrl-C stops it)."""
    from gateway.platform import UpOptions, run_platform, status_line

    settings = _settings()
    options = UpOptions(duration=duration, host=host, port=port, local=local,
                        fleet=fleet or (DEMO_FLEET if demo else None), demo=DEMO_WORKFLOW if demo else None,
                        ratecard=DEMO_RATECARD if demo else None)

    def report(started) -> None:
        out.print(status_line(started.bus, started.streams))
        out.print(_stream_table(started.streams))
        out.print(f"tessera: gateway {started.url} (API docs {started.url}/docs)")
        out.print(f"tessera: inference proxy {started.proxy_url}/v1 (OpenAI-compatible; API keys: `tessera keys create`)")
        out.print(f"tessera: clusters {', '.join(started.clusters) or 'none'}")
        if started.token:
            out.print(f"tessera: platform admin token (shown once): [bold]{started.token}[/bold]", soft_wrap=True)
        out.print(f"tessera: the CLI is logged in as the platform admin ({started.config_path}); "
                  "try `./tessera clusters list`", soft_wrap=True)
        out.print("[dim]Ctrl-C stops the platform.[/dim]" if duration is None else f"[dim]up for {duration:g}s[/dim]")

    asyncio.run(run_platform(settings, options, report=report, on_demo=lambda line: out.print(line, soft_wrap=True)))
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
