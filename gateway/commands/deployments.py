"""`tessera deployments`: create from a spec file, list, show (replicas with their load), scale, stop.

`create --wait` polls the deployment until it serves (exit 0) or until it is degraded or
stopped (exit 1 with one `error:` line naming the state); `--timeout` bounds the wait.
`-o json` prints the API's JSON only.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer
from rich.console import Group

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
    fail,
    fetch_list,
    handles_errors,
    post_spec,
    print_json,
    seg,
    stderr,
    stdout,
    tenant_header,
)
from gateway.commands.render import details, state, table

app = typer.Typer(help="Inference deployments: create, inspect, scale, stop.", no_args_is_help=True)

COLUMNS = [("id", "id"), ("name", "name"), ("model", "model"), ("engine", "engine"),
           ("status", lambda d: state(d.get("status"))),
           ("ready/desired", lambda d: f"{d.get('ready')}/{d.get('desired')}"),
           ("min..max", lambda d: f"{d.get('min_replicas')}..{d.get('max_replicas')}"),
           ("autoscale", "autoscale"), ("created", "created_at")]
REPLICA_COLUMNS = [("replica", "index"), ("gen", "generation"), ("status", lambda r: state(r.get("status"))),
                   ("placed on", lambda r: ", ".join(f"{p.get('cluster')}/{p.get('node')}"
                                                     for p in r.get("placements") or [])),
                   ("running", lambda r: (r.get("load") or {}).get("running")),
                   ("waiting", lambda r: (r.get("load") or {}).get("waiting")),
                   ("kv cache", lambda r: (r.get("load") or {}).get("kv_cache")),
                   ("reason", "reason"), ("job", "job_id")]
SETTLED = {"serving": 0, "degraded": 1, "stopped": 1}
_POLL_S = 0.5


def render_deployment(d: dict[str, Any]) -> Group:
    replicas = [*(d.get("replicas") or []), *(d.get("stopping") or [])]
    return Group(details(d, skip=("spec", "replicas", "stopping", "link")), table(replicas, REPLICA_COLUMNS,
                                                                                   title="replicas"))


def wait_settled(client, deployment_id: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    seen = None
    with stderr.status(f"deployment {deployment_id}") as status:
        while True:
            d = client.get(f"/v1/deployments/{seg(deployment_id)}")
            if d.get("status") != seen:
                seen = d.get("status")
                stderr.print(f"  {time.strftime('%H:%M:%S')} {seen} ({d.get('ready')}/{d.get('desired')} ready)",
                             markup=False)
                status.update(f"deployment {deployment_id}: {seen}")
            if seen in SETTLED or time.monotonic() > deadline:
                return d
            time.sleep(_POLL_S)


@app.command("create")
@handles_errors
def create(file: Annotated[str, typer.Argument(help="Deployment spec, YAML or JSON ('-' = stdin).")],
           wait_for: Annotated[bool, typer.Option("--wait", help="Wait until it serves; exit 0 only then.")] = False,
           timeout: Annotated[float, typer.Option(help="Seconds --wait waits at most.")] = 600.0,
           idempotency_key: Annotated[str | None, typer.Option("--idempotency-key",
                                                              help="Same key, same answer.")] = None,
           tenant: TenantOpt = None, output: OutputOpt = Output.table) -> None:
    """Create a deployment from its spec file."""
    headers = {**tenant_header(tenant), **({"Idempotency-Key": idempotency_key} if idempotency_key else {})}
    with connect() as client:
        answer = post_spec(client, "/v1/deployments", file, headers=headers)
        if not wait_for:
            emit_accepted(answer, output, "deployment")
            return
        stderr.print(f"deployment {answer.get('id')} created", markup=False)
        final = wait_settled(client, str(answer["id"]), timeout)
    if output is Output.json:
        print_json(final)
    final_state = final.get("status")
    if final_state != "serving":
        why = "" if final_state in SETTLED else f" after {timeout:g}s"
        fail(f"deployment {final.get('id')} is {final_state}{why} ({final.get('ready')}/{final.get('desired')} ready)")
    if output is not Output.json:
        stdout.print(f"deployment {final.get('id')}: serving", markup=False)


@app.command("list")
@handles_errors
def deployments_list(status: Annotated[str | None, typer.Option(help="Only deployments in this state.")] = None,
                     name: Annotated[str | None, typer.Option(help="Only deployments with this name.")] = None,
                     tenant: TenantOpt = None, output: OutputOpt = Output.table, all_pages: AllPagesOpt = False,
                     page_size: PageSizeOpt = None, cursor: CursorOpt = None) -> None:
    """List deployments."""
    with connect() as client:
        page = fetch_list(client, "/v1/deployments", all_pages=all_pages, page_size=page_size, cursor=cursor,
                          status=status, name=name, tenant=tenant)
    emit_list(page, output, lambda items: table(items, COLUMNS))


@app.command("show")
@handles_errors
def show(deployment_id: str, tenant: TenantOpt = None, output: OutputOpt = Output.table) -> None:
    """One deployment: status, replicas, where they run and their live load."""
    with connect() as client:
        emit(client.get(f"/v1/deployments/{seg(deployment_id)}", tenant=tenant), output, render_deployment)


@app.command("scale")
@handles_errors
def scale(deployment_id: str, replicas: Annotated[int, typer.Argument(help="The desired replica count.")],
          reason: Annotated[str | None, typer.Option(help="Why.")] = None,
          tenant: TenantOpt = None, output: OutputOpt = Output.table) -> None:
    """Set the desired replica count (within the spec's min..max)."""
    body = {"replicas": replicas, **({"reason": reason} if reason else {})}
    with connect() as client:
        answer = client.post(f"/v1/deployments/{seg(deployment_id)}/scale", body, headers=tenant_header(tenant))
    emit_accepted(answer, output, "deployment")


@app.command("delete", help="Stop a deployment (same as stop: its history stays in the log).")
@app.command("stop")
@handles_errors
def stop(deployment_id: str, reason: Annotated[str | None, typer.Option(help="Why.")] = None,
         tenant: TenantOpt = None, output: OutputOpt = Output.table) -> None:
    """Stop a deployment: every replica ends (terminal)."""
    with connect() as client:
        answer = client.post(f"/v1/deployments/{seg(deployment_id)}/stop", {"reason": reason} if reason else {},
                             headers=tenant_header(tenant))
    emit_accepted(answer, output, "deployment")
