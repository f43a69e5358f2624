"""`tessera usage | audit | dry-run`: what was used, what happened to an object, where a job would fit.

`dry-run` changes nothing: it shows the nodes a job spec would fit on (best first, with the
GPUs it would get) and, for every other node, the reason it was rejected.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any

import typer
from rich.console import Group
from rich.table import Table
from rich.text import Text

from gateway.commands.common import (
    Output,
    OutputOpt,
    TenantOpt,
    connect,
    emit,
    handles_errors,
    post_spec,
    seg,
    tenant_header,
)
from gateway.commands.events import render_events, summary
from gateway.commands.render import cell, items_of

app = typer.Typer()


class GroupBy(str, Enum):
    tenant = "tenant"
    job = "job"
    gpu_model = "gpu_model"
    day = "day"


class Kind(str, Enum):
    cluster = "cluster"
    node = "node"
    job = "job"
    workflow = "workflow"
    tenant = "tenant"
    user = "user"
    token = "token"


def render_rows(data: Any) -> Table:
    rows = items_of(data.get("rows", data.get("items", [])) if isinstance(data, dict) else data)
    columns = list(dict.fromkeys(k for r in rows for k in r)) or ["(no usage)"]
    t = Table(*columns)
    for r in rows:
        t.add_row(*(cell(round(v, 3) if isinstance(v := r.get(c), float) else v) for c in columns))
    return t


@app.command()
@handles_errors
def usage(
    by: Annotated[GroupBy, typer.Option("--by", help="Group GPU usage by this.")] = GroupBy.tenant,
    start: Annotated[str | None, typer.Option("--from", help="From (ISO date/time, inclusive).")] = None,
    end: Annotated[str | None, typer.Option("--to", help="To (ISO date/time, exclusive).")] = None,
    job: Annotated[str | None, typer.Option(help="Only this job.")] = None,
    gpu_model: Annotated[str | None, typer.Option("--gpu-model", help="Only this GPU model.")] = None,
    tenant: TenantOpt = None, output: OutputOpt = Output.table,
) -> None:
    """GPU usage (GPU-seconds/hours) from the metering tables."""
    params = {"group_by": by.value, "from": start, "to": end, "job": job, "gpu_model": gpu_model, "tenant": tenant}
    with connect() as client:
        emit(client.get("/v1/usage", **params), output, render_rows)


@app.command()
@handles_errors
def audit(kind: Annotated[Kind, typer.Argument(help="What the id names.")], obj_id: Annotated[str, typer.Argument(metavar="ID")],
          tenant: TenantOpt = None, output: OutputOpt = Output.table) -> None:
    """The audit trail of an object: its events, when, and who caused them."""
    with connect() as client:
        emit(client.get(f"/v1/audit/{kind.value}/{seg(obj_id)}", tenant=tenant), output, render_events)


def render_dry_run(answer: dict[str, Any]) -> Group:
    cands = Table("cluster", "node", "GPU model", "GPUs it would get", "free after", "score",
                  title="candidates (best first)", title_justify="left")
    for c in answer.get("candidates") or []:
        cands.add_row(*(cell(c.get(k)) for k in ("cluster", "node", "gpu_model", "gpu_indices", "free_gpus_after", "score")))
    rejected = Table("node", "why not", title="rejected", title_justify="left")
    for node, reason in (answer.get("rejected") or {}).items():
        rejected.add_row(node, summary({"r": reason}).removeprefix("r="))
    placed = answer.get("placements") or []
    if placed:
        verdict = Text("would place now on " + ", ".join(f"{p['cluster']}/{p['node']}" for p in placed), style="green")
    else:
        verdict = Text("would wait: " + summary({"r": answer.get("reason")}).removeprefix("r="), style="yellow")
    if answer.get("victims"):
        verdict.append(f" (preempting {', '.join(answer['victims'])})", style="magenta")
    parts = [verdict, cands] if answer.get("candidates") else [verdict, Text("no candidate node", style="yellow")]
    return Group(*parts, rejected) if answer.get("rejected") else Group(*parts)


@app.command("dry-run")
@handles_errors
def dry_run(file: Annotated[str, typer.Argument(help="Job spec, YAML or JSON ('-' = stdin).")],
            tenant: TenantOpt = None, output: OutputOpt = Output.table) -> None:
    """Where a job would fit right now, and why not elsewhere (nothing is submitted)."""
    with connect() as client:
        emit(post_spec(client, "/v1/allocation/dry-run", file, headers=tenant_header(tenant)), output, render_dry_run)
