"""`tessera login | logout | whoami`: who the CLI speaks as, and to which gateway.

`login` checks the token against GET /v1/whoami BEFORE writing anything, so a wrong URL or
token never replaces a working cli.json; the file is written with mode 0600. `logout`
forgets the token and keeps the URL.
"""

from __future__ import annotations

import os
from typing import Annotated

import typer

from gateway.client import CliConfig, Client, ClientError, load_config, save_config
from gateway.commands.common import (
    Output,
    OutputOpt,
    connect,
    emit,
    fail,
    handles_errors,
    stderr,
)
from gateway.commands.render import details

app = typer.Typer()


@app.command()
@handles_errors
def login(
    url: Annotated[str | None, typer.Option(help="Gateway URL (default: the one in cli.json / TESSERA_URL).")] = None,
    token: Annotated[str | None, typer.Option(help="Bearer token (default: TESSERA_TOKEN, else asked without echo).")] = None,
) -> None:
    """Check a token with the gateway and remember it in $TESSERA_HOME/cli.json."""
    current = load_config()
    url = (url or current.url or typer.prompt("Gateway URL")).rstrip("/")
    token = token or os.environ.get("TESSERA_TOKEN") or typer.prompt("Token", hide_input=True)
    with Client(url, token) as client:
        try:
            me = client.get("/v1/whoami")
        except ClientError as exc:
            if exc.status == 401:
                fail(f"the gateway at {url} refused this token: {exc}")
            raise
    path = save_config(CliConfig(current.home, url, token))
    stderr.print(f"logged in to {url} as {me.get('user_id')} ({me.get('role')}) in tenant "
                 f"{me.get('tenant')}; saved to {path}", markup=False)


@app.command()
@handles_errors
def logout() -> None:
    """Forget the token in cli.json (the URL stays)."""
    current = load_config({k: v for k, v in os.environ.items() if k not in ("TESSERA_URL", "TESSERA_TOKEN")})
    if not current.path.exists():
        stderr.print("not logged in")
        return
    save_config(CliConfig(current.home, current.url, None))
    stderr.print(f"logged out (token removed from {current.path})", markup=False)


@app.command()
@handles_errors
def whoami(output: OutputOpt = Output.table) -> None:
    """The tenant, user and role of the current token."""
    with connect() as client:
        emit(client.get("/v1/whoami"), output, details)
