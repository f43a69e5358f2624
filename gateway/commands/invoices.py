"""`tessera invoices list | show ID | export ID --format csv|json | void ID --reason R`: invoices over /v1/invoices.

`export` writes the gateway's own export (the same bytes as
`GET /v1/invoices/{id}/export?format=...`) to stdout, or to `--out FILE`.
Platform admins name the tenant with `--tenant`. `void` (platform admins) voids a
draft or finalized invoice; it keeps its figures and shows the reason.
"""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from gateway.client import error_from_response
from gateway.commands.common import (
    AllPagesOpt,
    CursorOpt,
    Output,
    OutputOpt,
    PageSizeOpt,
    TenantOpt,
    connect,
    emit,
    emit_accepted,
    emit_list,
    fetch_list,
    handles_errors,
    seg,
    tenant_header,
)
from gateway.commands.render import state, table

app = typer.Typer(help="Invoices: list, show, export, void.", no_args_is_help=True)


class Format(str, Enum):
    csv = "csv"
    json = "json"


def _tenant(tenant: str | None) -> dict:
    return {"tenant": tenant} if tenant else {}


@app.command("list")
@handles_errors
def invoices_list(status: Annotated[str | None, typer.Option(help="draft | finalized | void")] = None,
                  period: Annotated[str | None, typer.Option(help="e.g. 2026-11")] = None,
                  tenant: TenantOpt = None, output: OutputOpt = Output.table, all_pages: AllPagesOpt = False,
                  page_size: PageSizeOpt = None, cursor: CursorOpt = None) -> None:
    """List invoices, newest period first."""
    with connect() as client:
        page = fetch_list(client, "/v1/invoices", all_pages=all_pages, page_size=page_size, cursor=cursor,
                          status=status, period=period, **_tenant(tenant))
    emit_list(page, output, lambda items: table(items, [
        ("id", "id"), ("period", "period"), ("status", lambda i: state(i["status"])), ("currency", "currency"),
        ("subtotal", "subtotal"), ("total", "total"), ("records", "records")]))


@app.command("show")
@handles_errors
def invoices_show(invoice_id: str, tenant: TenantOpt = None, output: OutputOpt = Output.table) -> None:
    """An invoice with its lines, credits and totals."""
    with connect() as client:
        invoice = client.get(f"/v1/invoices/{seg(invoice_id)}", **_tenant(tenant))

    def render(inv: dict):
        rows = [{"kind": x["line"]["kind"], "item": x["line"]["item"], "version": x["line"]["rate_card_version"],
                 "quantity": f'{x["quantity"]} {x["line"]["unit"]}', "amount": x["amount"]} for x in inv["lines"]]
        rows += [{"kind": "credit", "item": c["credit_id"], "amount": f'-{c["amount"]}'} for c in inv["credits"]]
        rows += [{"kind": "subtotal", "amount": inv["subtotal"]}, {"kind": "total", "amount": inv["total"]}]
        return table(rows, [("line", "kind"), ("item", "item"), ("card", "version"), ("quantity", "quantity"),
                            (f'amount ({inv["currency"]})', "amount")],
                     title=f'{inv["id"]} {inv["period"]} ({inv["status"]})')

    emit(invoice, output, render)


@app.command("export")
@handles_errors
def invoices_export(invoice_id: str, format: Annotated[Format, typer.Option("--format", "-f")] = Format.csv,
                    out: Annotated[Path | None, typer.Option("--out", help="Write here instead of stdout.")] = None,
                    tenant: TenantOpt = None) -> None:
    """Export an invoice as CSV or JSON."""
    with connect() as client:
        response = client._send("GET", f"/v1/invoices/{seg(invoice_id)}/export",
                                params={"format": format.value, **_tenant(tenant)})
    if response.is_error:
        raise error_from_response(response)
    if out is not None:
        out.write_bytes(response.content)
    else:
        sys.stdout.write(response.text)


@app.command("void")
@handles_errors
def invoices_void(invoice_id: str,
                  reason: Annotated[str, typer.Option("--reason", help="Why (kept with the invoice).")],
                  tenant: TenantOpt = None, output: OutputOpt = Output.table) -> None:
    """Void an invoice, draft or finalized (platform admins, with --tenant)."""
    with connect() as client:
        answer = client.post(f"/v1/invoices/{seg(invoice_id)}/void", {"reason": reason},
                             headers=tenant_header(tenant))
    emit_accepted(answer, output, "invoice")
