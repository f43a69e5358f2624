"""`tessera jobs`: submit job specs, list/show jobs, their events and logs, cancel them.

`submit --wait` follows the job live and exits 0 only if it succeeded. `--idempotency-key`
makes a retried submit return the first answer instead of a second job. `logs` prints each
line on the stream it was written to (stdout/stderr); `-f` keeps following until the job ends.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

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
    post_spec,
    print_json,
    seg,
    stderr,
    tenant_header,
)
from gateway.commands.events import render_events
from gateway.commands.progress import finish, wait
from gateway.commands.render import details, table

app = typer.Typer(help="Jobs: submit, inspect, follow, cancel.", no_args_is_help=True)

WaitOpt = Annotated[bool, typer.Option("--wait", help="Follow live until the end; exit 0 only on success.")]
KeyOpt = Annotated[str | None, typer.Option("--idempotency-key", help="Same key, same answer: never a second job.")]
JOB_COLUMNS = [("id", "id"), ("name", "name"), ("status", "status"), ("pool", "pool"), ("GPUs", "gpus"),
               ("GPU model", "gpu_model"), ("workflow", "workflow_id"), ("task", "task"),
               ("placed on", lambda j: ", ".join(f"{p.get('cluster')}/{p.get('node')}" for p in j.get("placements") or [])),
               ("reason", "reason"), ("submitted", "submitted_at")]


def submit_spec(kind: str, file: str, *, wait_for: bool, key: str | None, tenant: str | None, output: Output) -> None:
    headers = {**tenant_header(tenant), **({"Idempotency-Key": key} if key else {})}
    with connect() as client:
        answer = post_spec(client, f"/v1/{kind}s", file, headers=headers)
        if not wait_for:
            emit_accepted(answer, output, kind)
            return
        stderr.print(f"{kind} {answer.get('id')} submitted", markup=False)
        final = wait(client, kind, str(answer["id"]))
    if output is Output.json:
        print_json(final)
    finish(kind, final)


@app.command("submit")
@handles_errors
def submit(file: Annotated[str, typer.Argument(help="Job spec, YAML or JSON ('-' = stdin).")],
           wait_for: WaitOpt = False, idempotency_key: KeyOpt = None, tenant: TenantOpt = None,
           output: OutputOpt = Output.table) -> None:
    """Submit a job from its spec file."""
    submit_spec("job", file, wait_for=wait_for, key=idempotency_key, tenant=tenant, output=output)


@app.command("list")
@handles_errors
def jobs_list(
    status: Annotated[str | None, typer.Option(help="Only jobs in this state.")] = None,
    pool: Annotated[str | None, typer.Option(help="Only jobs of this pool.")] = None,
    label: Annotated[list[str] | None, typer.Option(help="key=value (repeatable).")] = None,
    workflow: Annotated[str | None, typer.Option(help="Only the jobs of this workflow.")] = None,
    sort: Annotated[str | None, typer.Option(help="Sort key the server supports.")] = None,
    tenant: TenantOpt = None, output: OutputOpt = Output.table, all_pages: AllPagesOpt = False,
    page_size: PageSizeOpt = None, cursor: CursorOpt = None,
) -> None:
    """List jobs (one page unless --all-pages)."""
    with connect() as client:
        page = fetch_list(client, "/v1/jobs", all_pages=all_pages, page_size=page_size, cursor=cursor,
                          status=status, pool=pool, label=label or None, workflow=workflow, sort=sort, tenant=tenant)
    emit_list(page, output, lambda items: table(items, JOB_COLUMNS))


@app.command("show")
@handles_errors
def show(job_id: str, tenant: TenantOpt = None, output: OutputOpt = Output.table) -> None:
    """One job: state, placement, reason."""
    with connect() as client:
        emit(client.get(f"/v1/jobs/{seg(job_id)}", tenant=tenant), output, details)


@app.command("cancel")
@handles_errors
def cancel(job_id: str, reason: Annotated[str | None, typer.Option(help="Why.")] = None,
           tenant: TenantOpt = None, output: OutputOpt = Output.table) -> None:
    """Cancel a job (its processes are stopped)."""
    with connect() as client:
        answer = client.post(f"/v1/jobs/{seg(job_id)}/cancel", {"reason": reason} if reason else {},
                             headers=tenant_header(tenant))
    emit_accepted(answer, output, "job")


@app.command("events")
@handles_errors
def events(job_id: str, tenant: TenantOpt = None, output: OutputOpt = Output.table) -> None:
    """The job's events: what happened, when, caused by whom."""
    with connect() as client:
        emit(client.get(f"/v1/jobs/{seg(job_id)}/events", tenant=tenant), output, render_events)


def _print_line(item: dict[str, Any]) -> None:
    stream = sys.stderr if item.get("stream") == "stderr" else sys.stdout
    stream.write(f"{item.get('line', '')}\n")
    stream.flush()


@app.command("logs")
@handles_errors
def logs(job_id: str, follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new lines.")] = False,
         tenant: TenantOpt = None, output: OutputOpt = Output.table) -> None:
    """The job's stdout/stderr lines (all tasks' attempts, in order)."""
    with connect() as client:
        if not follow:
            lines = {"items": list(client.pages(f"/v1/jobs/{seg(job_id)}/logs", tenant=tenant)), "next_cursor": None}
            if output is Output.json:
                print_json(lines)
                return
            for item in lines["items"]:
                _print_line(item)
            return
        for ev in client.stream(f"/v1/jobs/{seg(job_id)}/logs", follow="true", tenant=tenant):
            item = ev.json() if ev.data.lstrip().startswith("{") else None
            if not isinstance(item, dict) or "line" not in item:
                continue  # keep-alives and end markers
            if output is Output.json:
                sys.stdout.write(ev.data.replace("\n", " ") + "\n")
                sys.stdout.flush()
            else:
                _print_line(item)
