"""`tessera budget show | set AMOUNT --currency USD --mode hard|soft | clear`: the tenant's budget over /v1/budget.

`show` prints the budget in force, this billing period's spend and the
50/80/100% thresholds it crossed. `set` and `clear` are for tenant admins
(their tenant) and platform admins (`--tenant`); a hard budget a platform admin
set is lifted only by a platform admin. AMOUNT is an exact decimal ("250.00").
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any

import typer

from gateway.commands.common import (
    Output,
    OutputOpt,
    TenantOpt,
    connect,
    emit,
    emit_accepted,
    handles_errors,
    tenant_header,
)
from gateway.commands.render import details

app = typer.Typer(help="The tenant's spend budget per billing period.", no_args_is_help=True)


class Mode(str, Enum):
    soft = "soft"
    hard = "hard"


def _render(b: dict[str, Any]):
    alerts = "; ".join(f'{a["threshold"]}% at {a["spent"]} of {a["limit"]} ({a["time"]})' for a in b.get("alerts", []))
    amount = f'{b["amount"]} {b["currency"]}' if b.get("amount") is not None else "none"
    return details({"tenant": b.get("tenant"), "budget": amount, "mode": b.get("mode") if b.get("amount") else "",
                    "period": b.get("period") or "", "spent": f'{b.get("spent")} {b.get("currency")}',
                    "alerts": alerts or "none", "set by": b.get("set_by") or "", "revision": b.get("revision")})


@app.command("show")
@handles_errors
def show(tenant: TenantOpt = None, output: OutputOpt = Output.table) -> None:
    """The budget, this period's spend and the thresholds crossed."""
    with connect() as client:
        budget = client.get("/v1/budget", tenant=tenant)
    emit(budget, output, _render)


@app.command("set")
@handles_errors
def set_budget(amount: Annotated[str, typer.Argument(help="The spend limit per billing period, e.g. 250.00.")],
               currency: Annotated[str, typer.Option("--currency", help="ISO 4217 code.")] = "USD",
               mode: Annotated[Mode, typer.Option("--mode", help="hard: no new GPU work once spent; soft: alerts "
                                                                 "only.")] = Mode.soft,
               tenant: TenantOpt = None, output: OutputOpt = Output.table) -> None:
    """Set the tenant's budget (tenant admins; platform admins with --tenant)."""
    with connect() as client:
        answer = client.request("PUT", "/v1/budget", json={"amount": amount, "currency": currency, "mode": mode.value},
                                headers=tenant_header(tenant))
    emit_accepted(answer, output, "budget of")


@app.command("clear")
@handles_errors
def clear(tenant: TenantOpt = None, output: OutputOpt = Output.table) -> None:
    """Remove the tenant's budget."""
    with connect() as client:
        answer = client.request("DELETE", "/v1/budget", headers=tenant_header(tenant))
    emit_accepted(answer, output, "budget of")
