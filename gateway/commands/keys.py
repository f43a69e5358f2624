"""`tessera keys`: API keys for the inference proxy: create (printed once), list, show, budget, revoke.

Like `tessera tokens create`, the new key is printed alone on stdout (so
`KEY=$(tessera keys create app)` works) with a warning on stderr; `-o json` prints the
API's answer, key included. `--budget` is an exact decimal ("12.50"), hard
by default (requests past it are refused) or `--budget-mode soft` (alerts
only); `budget KEY AMOUNT|none` changes it. `show`
prints one key with its budget alerts (50/80/100% reached under the current
budget, when and at what spend).
"""

from __future__ import annotations

from typing import Annotated

import typer

from gateway.commands.common import (
    AllPagesOpt,
    CursorOpt,
    Output,
    OutputOpt,
    PageSizeOpt,
    TenantOpt,
    connect,
    create_secret,
    emit,
    emit_accepted,
    emit_list,
    fetch_list,
    handles_errors,
    seg,
    tenant_header,
)
from gateway.commands.render import details, state, table

app = typer.Typer(help="API keys for the OpenAI-compatible proxy.", no_args_is_help=True)

COLUMNS = [("id", "id"), ("name", "name"), ("status", lambda k: state(k.get("status"))),
           ("models", lambda k: ", ".join(k.get("allowed_models") or []) or "all"),
           ("rpm", "rpm"), ("tpm", "tpm"), ("budget", "budget"),
           ("used", lambda k: f'>= {k["budget_alerts"][-1]["threshold"]}%' if k.get("budget_alerts") else ""),
           ("expires", "expires_at"),
           ("created", "created_at")]


@app.command("create")
@handles_errors
def create(
    name: str,
    models: Annotated[list[str] | None, typer.Option("--models", "--model",
                                                     help="A model the key may call (repeatable; default: all).")] = None,
    rpm: Annotated[int | None, typer.Option("--rpm", help="Requests per minute (default: unlimited).")] = None,
    tpm: Annotated[int | None, typer.Option("--tpm", help="Tokens per minute (default: unlimited).")] = None,
    budget: Annotated[str | None, typer.Option("--budget", help="Spend limit, e.g. 12.50 (default: none).")] = None,
    budget_mode: Annotated[str, typer.Option(
        "--budget-mode", help="hard: refuse past the budget; soft: alert only.")] = "hard",
    expires_in: Annotated[int | None, typer.Option("--expires-in", help="Lifetime in seconds (default: none).")] = None,
    tenant: TenantOpt = None, output: OutputOpt = Output.table,
) -> None:
    """Create an API key; it is shown once."""
    names = [m for value in models or [] for m in value.split(",") if m]
    body = {"name": name, "models": names, "rpm": rpm, "tpm": tpm, "budget": budget, "budget_mode": budget_mode,
            "expires_in_s": expires_in}
    create_secret("/v1/keys", body, tenant, output, "key", "API key {id}")


@app.command("list")
@handles_errors
def keys_list(tenant: TenantOpt = None, output: OutputOpt = Output.table, all_pages: AllPagesOpt = False,
              page_size: PageSizeOpt = None, cursor: CursorOpt = None) -> None:
    """List the tenant's API keys (never the keys themselves)."""
    with connect() as client:
        page = fetch_list(client, "/v1/keys", all_pages=all_pages, page_size=page_size, cursor=cursor, tenant=tenant)
    emit_list(page, output, lambda items: table(items, COLUMNS))


@app.command("show")
@handles_errors
def show(key_id: str, tenant: TenantOpt = None, output: OutputOpt = Output.table) -> None:
    """One API key: scope, limits, budget and the budget alerts reached under it."""
    with connect() as client:
        key = client.get(f"/v1/keys/{seg(key_id)}", tenant=tenant)

    def render(k: dict):
        alerts = k.get("budget_alerts") or []
        lines = [f'{a["threshold"]}% at {a["spent"]} of {a["limit"]} ({a["time"]})' for a in alerts]
        return details({**k, "budget_alerts": "; ".join(lines) or "none"})

    emit(key, output, render)


@app.command("budget")
@handles_errors
def budget(key_id: str,
           amount: Annotated[str, typer.Argument(help="The spend limit, e.g. 12.50, or 'none' for unlimited.")],
           mode: Annotated[str, typer.Option("--mode", help="hard: refuse past the budget; soft: alerts only.")
                           ] = "hard",
           tenant: TenantOpt = None, output: OutputOpt = Output.table) -> None:
    """Change a key's budget (a new budget starts its 50/80/100% alerts over)."""
    body = {"budget": None if amount.lower() == "none" else amount, "budget_mode": mode}
    with connect() as client:
        answer = client.request("POST", f"/v1/keys/{seg(key_id)}/budget", json=body, headers=tenant_header(tenant))
    emit_accepted(answer, output, "key")


@app.command("revoke")
@handles_errors
def revoke(key_id: str, tenant: TenantOpt = None, output: OutputOpt = Output.table) -> None:
    """Revoke an API key: every proxy stops accepting it."""
    with connect() as client:
        answer = client.request("DELETE", f"/v1/keys/{seg(key_id)}", headers=tenant_header(tenant))
    emit_accepted(answer, output, "key")
