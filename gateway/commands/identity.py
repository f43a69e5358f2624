"""`tessera tenants | users | tokens`: identity administration over /v1/tenants, /v1/users, /v1/tokens.

Writes answer with the gateway's 202 (or 201 for a new token) once the read model shows the
change. A new token's secret is printed exactly once, alone on stdout (so
`TOKEN=$(tessera tokens create ci)` works), with a warning on stderr.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.text import Text

from gateway.commands.common import (
    AllPagesOpt,
    CursorOpt,
    Output,
    OutputOpt,
    PageSizeOpt,
    TenantOpt,
    connect,
    create_secret,
    emit_accepted,
    emit_list,
    fetch_list,
    handles_errors,
    seg,
    tenant_header,
)
from gateway.commands.render import state, table

tenants = typer.Typer(help="Tenants (platform admins).", no_args_is_help=True)
users = typer.Typer(help="Users of a tenant and their roles.", no_args_is_help=True)
tokens = typer.Typer(help="Bearer tokens.", no_args_is_help=True)

def _user_status(user: dict) -> Text:
    return state("disabled" if user.get("disabled") else "active")


Role = Annotated[str, typer.Argument(help="platform-admin | tenant-admin | member | viewer")]


@tenants.command("create")
@handles_errors
def tenants_create(tenant: str, display_name: Annotated[str | None, typer.Option(help="Human name.")] = None,
                   output: OutputOpt = Output.table) -> None:
    """Create a tenant."""
    with connect() as client:
        answer = client.post("/v1/tenants", {"tenant": tenant, "display_name": display_name or tenant})
    emit_accepted(answer, output, "tenant")


@tenants.command("list")
@handles_errors
def tenants_list(output: OutputOpt = Output.table, all_pages: AllPagesOpt = False,
                 page_size: PageSizeOpt = None, cursor: CursorOpt = None) -> None:
    """List tenants."""
    with connect() as client:
        page = fetch_list(client, "/v1/tenants", all_pages=all_pages, page_size=page_size, cursor=cursor)
    emit_list(page, output, lambda items: table(items, [("tenant", "tenant"), ("display name", "display_name"),
                                                        ("created", "created_at")]))


@users.command("create")
@handles_errors
def users_create(user_id: str, role: Role = "member", name: Annotated[str | None, typer.Option(help="Display name.")] = None,
                 tenant: TenantOpt = None, output: OutputOpt = Output.table) -> None:
    """Create a user with a role."""
    with connect() as client:
        answer = client.post("/v1/users", {"user_id": user_id, "name": name or user_id, "role": role},
                             headers=tenant_header(tenant))
    emit_accepted(answer, output, "user")


@users.command("list")
@handles_errors
def users_list(tenant: TenantOpt = None, output: OutputOpt = Output.table, all_pages: AllPagesOpt = False,
               page_size: PageSizeOpt = None, cursor: CursorOpt = None) -> None:
    """List the users of your tenant."""
    with connect() as client:
        page = fetch_list(client, "/v1/users", all_pages=all_pages, page_size=page_size, cursor=cursor, tenant=tenant)
    emit_list(page, output, lambda items: table(items, [("user", "user_id"), ("name", "name"), ("role", "role"),
                                                        ("status", _user_status), ("tenant", "tenant")]))


@users.command("role")
@handles_errors
def users_role(user_id: str, role: Role, tenant: TenantOpt = None, output: OutputOpt = Output.table) -> None:
    """Change a user's role."""
    with connect() as client:
        answer = client.post(f"/v1/users/{seg(user_id)}/role", {"role": role}, headers=tenant_header(tenant))
    emit_accepted(answer, output, "user")


@users.command("disable")
@handles_errors
def users_disable(user_id: str, tenant: TenantOpt = None, output: OutputOpt = Output.table) -> None:
    """Disable a user (their tokens stop working)."""
    with connect() as client:
        answer = client.post(f"/v1/users/{seg(user_id)}/disable", {}, headers=tenant_header(tenant))
    emit_accepted(answer, output, "user")


@tokens.command("create")
@handles_errors
def tokens_create(
    name: str,
    user: Annotated[str | None, typer.Option("--user", help="For another user of the tenant (admins).")] = None,
    expires_in: Annotated[int | None, typer.Option("--expires-in", help="Lifetime in seconds.")] = None,
    tenant: TenantOpt = None, output: OutputOpt = Output.table,
) -> None:
    """Issue a token; its secret is shown once."""
    body = {"name": name, "user_id": user, "expires_in_s": expires_in}
    create_secret("/v1/tokens", body, tenant, output, "token", "token {id} (expires {expires_at})")


@tokens.command("list")
@handles_errors
def tokens_list(tenant: TenantOpt = None, output: OutputOpt = Output.table, all_pages: AllPagesOpt = False,
                page_size: PageSizeOpt = None, cursor: CursorOpt = None) -> None:
    """List tokens (never their secrets)."""
    with connect() as client:
        page = fetch_list(client, "/v1/tokens", all_pages=all_pages, page_size=page_size, cursor=cursor, tenant=tenant)
    emit_list(page, output, lambda items: table(items, [("id", lambda t: t.get("token_id") or t.get("id")),
                                                        ("name", "name"), ("user", "user_id"),
                                                        ("expires", "expires_at"),
                                                        ("status", lambda t: state(t.get("status") or ("revoked" if t.get("revoked") else "active")))]))


@tokens.command("revoke")
@handles_errors
def tokens_revoke(token_id: str, tenant: TenantOpt = None, output: OutputOpt = Output.table) -> None:
    """Revoke a token (effective within a second)."""
    with connect() as client:
        answer = client.request("DELETE", f"/v1/tokens/{seg(token_id)}", headers=tenant_header(tenant))
    emit_accepted(answer or {"id": token_id, "status": "revoked"}, output, "token")
