"""`tessera workflows`: submit DAG specs, list them, draw one with per-task state, cancel.

`show` draws the DAG in stages (a task sits one stage after the latest task it needs) with
each task's state in colour, its exit code, attempt and job id. `submit --wait` follows the
workflow's events live and exits 0 only if the workflow succeeded.
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
    emit,
    emit_accepted,
    emit_list,
    fetch_list,
    handles_errors,
    seg,
    tenant_header,
)
from gateway.commands.dag import render_dag
from gateway.commands.events import render_events
from gateway.commands.jobs import KeyOpt, WaitOpt, submit_spec
from gateway.commands.render import table

app = typer.Typer(help="Workflows: DAGs of tasks.", no_args_is_help=True)


def _progress(w: dict) -> str:
    counts = w.get("counts") or {}
    return f"{counts.get('succeeded', 0)}/{sum(counts.values())}" if counts else ""


WORKFLOW_COLUMNS = [("id", "id"), ("name", "name"), ("status", "status"), ("tasks done", _progress),
                    ("reason", "reason"), ("submitted", "submitted_at")]


@app.command("submit")
@handles_errors
def submit(file: Annotated[str, typer.Argument(help="Workflow spec, YAML or JSON ('-' = stdin).")],
           wait_for: WaitOpt = False, idempotency_key: KeyOpt = None, tenant: TenantOpt = None,
           output: OutputOpt = Output.table) -> None:
    """Submit a workflow from its spec file."""
    submit_spec("workflow", file, wait_for=wait_for, key=idempotency_key, tenant=tenant, output=output)


@app.command("list")
@handles_errors
def workflows_list(
    status: Annotated[str | None, typer.Option(help="Only workflows in this state.")] = None,
    tenant: TenantOpt = None, output: OutputOpt = Output.table, all_pages: AllPagesOpt = False,
    page_size: PageSizeOpt = None, cursor: CursorOpt = None,
) -> None:
    """List workflows."""
    with connect() as client:
        page = fetch_list(client, "/v1/workflows", all_pages=all_pages, page_size=page_size, cursor=cursor,
                          status=status, tenant=tenant)
    emit_list(page, output, lambda items: table(items, WORKFLOW_COLUMNS))


@app.command("show")
@handles_errors
def show(workflow_id: str, tenant: TenantOpt = None, output: OutputOpt = Output.table) -> None:
    """Draw the workflow's DAG with each task's state."""
    with connect() as client:
        emit(client.get(f"/v1/workflows/{seg(workflow_id)}", tenant=tenant), output, render_dag)


@app.command("cancel")
@handles_errors
def cancel(workflow_id: str, reason: Annotated[str | None, typer.Option(help="Why.")] = None,
           tenant: TenantOpt = None, output: OutputOpt = Output.table) -> None:
    """Cancel a workflow: its running tasks are stopped, the rest never start."""
    with connect() as client:
        answer = client.post(f"/v1/workflows/{seg(workflow_id)}/cancel", {"reason": reason} if reason else {},
                             headers=tenant_header(tenant))
    emit_accepted(answer, output, "workflow")


@app.command("events")
@handles_errors
def events(workflow_id: str, tenant: TenantOpt = None, output: OutputOpt = Output.table) -> None:
    """The workflow's events."""
    with connect() as client:
        emit(client.get(f"/v1/workflows/{seg(workflow_id)}/events", tenant=tenant), output, render_events)
