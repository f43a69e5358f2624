"""`tessera credits grant | list | revoke ID`: a tenant's credits and discounts over /v1/credits.

`grant` (platform admins, `--tenant` naming the tenant) takes exactly one of
`--amount 100.00` (a credit consumed by invoices until used up) or
`--percent 10` (a discount on each invoice's subtotal). `list` shows every
credit of the tenant with its status and, for amount credits, what finalized
invoices used of it. `revoke` stops a credit for invoices finalized afterwards.
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
    emit_accepted,
    emit_list,
    fail,
    fetch_list,
    handles_errors,
    seg,
    tenant_header,
)
from gateway.commands.render import state, table

app = typer.Typer(help="Credits and discounts of a tenant.", no_args_is_help=True)


@app.command("grant")
@handles_errors
def grant(
    amount: Annotated[str | None, typer.Option("--amount", help="A credit, e.g. 100.00.")] = None,
    percent: Annotated[str | None, typer.Option("--percent", help="A discount, 0 < percent <= 100.")] = None,
    currency: Annotated[str, typer.Option("--currency", help="ISO 4217 code.")] = "USD",
    valid_from: Annotated[str | None, typer.Option("--from", help="ISO 8601 start (default: now).")] = None,
    valid_until: Annotated[str | None, typer.Option("--until", help="ISO 8601 end, exclusive (default: none).")
                           ] = None,
    description: Annotated[str, typer.Option("--description", help="Shown with the credit.")] = "",
    credit_id: Annotated[str | None, typer.Option("--id", help="The credit's id (default: generated).")] = None,
    tenant: TenantOpt = None, output: OutputOpt = Output.table,
) -> None:
    """Grant a credit (--amount) or a discount (--percent) to a tenant (platform admins)."""
    if (amount is None) == (percent is None):
        fail("give exactly one of --amount or --percent")
    body = {"kind": "amount" if amount is not None else "percent", "amount": amount, "percent": percent,
            "currency": currency, "valid_from": valid_from, "valid_until": valid_until, "description": description,
            "credit_id": credit_id}
    with connect() as client:
        answer = client.post("/v1/credits", {k: v for k, v in body.items() if v is not None},
                             headers=tenant_header(tenant))
    emit_accepted(answer, output, "credit")


@app.command("list")
@handles_errors
def credits_list(tenant: TenantOpt = None, output: OutputOpt = Output.table, all_pages: AllPagesOpt = False,
                 page_size: PageSizeOpt = None, cursor: CursorOpt = None) -> None:
    """List the tenant's credits and discounts."""
    with connect() as client:
        page = fetch_list(client, "/v1/credits", all_pages=all_pages, page_size=page_size, cursor=cursor,
                          tenant=tenant)
    emit_list(page, output, lambda items: table(items, [
        ("id", "credit_id"), ("kind", "kind"),
        ("value", lambda c: f'{c["percent"]}%' if c["kind"] == "percent" else f'{c["amount"]} {c["currency"]}'),
        ("used", "used"), ("status", lambda c: state(c["status"])), ("from", "valid_from"),
        ("until", "valid_until"), ("description", "description")]))


@app.command("revoke")
@handles_errors
def revoke(credit_id: str, tenant: TenantOpt = None, output: OutputOpt = Output.table) -> None:
    """Revoke a credit: invoices finalized from now on no longer apply it (platform admins)."""
    with connect() as client:
        answer = client.request("DELETE", f"/v1/credits/{seg(credit_id)}", headers=tenant_header(tenant))
    emit_accepted(answer, output, "credit")
