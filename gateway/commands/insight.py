"""`tessera usage | audit | dry-run`: what was used, who did what to which object and when, where a job would fit.

`audit KIND ID` alone shows that object's whole trail from the log; with a filter (`--actor`,
`--type`, `--since`, `--until`), or without an object, it searches every object's events in the
audit table (newest first, paged). `--since`/`--until` take ISO times (UTC if no zone) or an age
like `30m`, `6h`, `2d`.

`dry-run` changes nothing: it shows the nodes a job spec would fit on (best first, with the
GPUs it would get) and, for every other node, the reason it was rejected.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Annotated, Any

import typer
from rich.console import Group
from rich.table import Table
from rich.text import Text

from gateway.commands.common import (
    AllPagesOpt,
    CursorOpt,
    Output,
    OutputOpt,
    PageSizeOpt,
    TenantOpt,
    connect,
    emit,
    emit_list,
    fail,
    fetch_list,
    handles_errors,
    post_spec,
    seg,
    tenant_header,
)
from gateway.commands.events import render_events, short_type, summary
from gateway.commands.render import cell, items_of

app = typer.Typer()


class GroupBy(str, Enum):
    tenant = "tenant"
    job = "job"
    gpu_model = "gpu_model"
    day = "day"
    key = "key"  # --inference only (as are model and minute)
    model = "model"
    minute = "minute"


INFERENCE_GROUPS = ("key", "model", "minute")


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
    by: Annotated[GroupBy | None, typer.Option("--by", help=(
        "Group by this: tenant, job, gpu_model, day (GPU usage; default tenant) or, with --inference, "
        "key, model, minute (default model)."))] = None,
    inference: Annotated[bool, typer.Option("--inference", help="Inference requests and tokens (API keys).")] = False,
    start: Annotated[str | None, typer.Option("--from", help="From (ISO date/time, inclusive).")] = None,
    end: Annotated[str | None, typer.Option("--to", help="To (ISO date/time, exclusive).")] = None,
    job: Annotated[str | None, typer.Option(help="Only this job.")] = None,
    gpu_model: Annotated[str | None, typer.Option("--gpu-model", help="Only this GPU model.")] = None,
    tenant: TenantOpt = None, output: OutputOpt = Output.table,
) -> None:
    """GPU usage (GPU-seconds/hours), or with --inference requests and tokens, from the metering tables."""
    if inference:
        group = by.value if by else "model"
        if group not in INFERENCE_GROUPS or job or gpu_model:
            fail("--inference groups --by key, model or minute (no --job/--gpu-model)" if group in INFERENCE_GROUPS
                 else f"--by {group}: inference usage groups by key, model or minute")
        with connect() as client:
            emit(client.get("/v1/usage/inference", group_by=group, tenant=tenant, **{"from": start, "to": end}),
                 output, render_rows)
        return
    if by is not None and by.value in INFERENCE_GROUPS:
        fail(f"--by {by.value} is for inference usage: add --inference")
    params = {"group_by": (by or GroupBy.tenant).value, "from": start, "to": end, "job": job,
              "gpu_model": gpu_model, "tenant": tenant}
    with connect() as client:
        emit(client.get("/v1/usage", **params), output, render_rows)


_AGE = re.compile(r"^(\d+)([smhd])$")
_UNIT = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def when(value: str | None, flag: str) -> str | None:
    """An ISO time (UTC if it names no zone) or an age (`6h`: six hours ago), as the API's ISO 8601."""
    if value is None:
        return None
    age = _AGE.match(value.strip())
    if age:
        return (datetime.now(UTC) - timedelta(**{_UNIT[age[2]]: int(age[1])})).isoformat()
    try:
        t = datetime.fromisoformat(value.strip())
    except ValueError:
        fail(f"{flag}: {value!r} is neither an ISO time nor an age like 30m, 6h, 2d")
    return (t if t.tzinfo else t.replace(tzinfo=UTC)).isoformat()


def render_audit(items: list[dict[str, Any]]) -> Table:
    t = Table("time", "actor", "type", "object", "summary")
    for e in items:
        actor, credential = str(e.get("actor") or ""), e.get("credential")
        who = f"{actor}#{credential}" if credential and not actor.endswith(f"/{credential}") else actor
        t.add_row(str(e.get("time", "")), who, short_type(str(e.get("type", ""))),
                  f"{e.get('aggregate')}/{e.get('aggregate_id')}", summary(e.get("data")))
    return t


@app.command()
@handles_errors
def audit(kind: Annotated[Kind | None, typer.Argument(help="What the id names.")] = None,
          obj_id: Annotated[str | None, typer.Argument(metavar="[ID]")] = None,
          actor: Annotated[str | None, typer.Option(help=(
              "Who: user:<tenant>/<user> (any of their tokens), user:<tenant>/<user>#<token_id>, apikey:<tenant>/<key>."))] = None,
          event_type: Annotated[str | None, typer.Option("--type", help="Event type or name (job_submitted).")] = None,
          since: Annotated[str | None, typer.Option(help="From (ISO time, or an age: 30m, 6h, 2d).")] = None,
          until: Annotated[str | None, typer.Option(help="Until, exclusive (ISO time or an age).")] = None,
          all_pages: AllPagesOpt = False, page_size: PageSizeOpt = None, cursor: CursorOpt = None,
          tenant: TenantOpt = None, output: OutputOpt = Output.table) -> None:
    """Who did what to which object and when; KIND ID alone: that object's whole trail."""
    searched = obj_id is None or any(v is not None for v in (actor, event_type, since, until, page_size, cursor)) \
        or all_pages
    with connect() as client:
        if not searched:
            emit(client.get(f"/v1/audit/{kind.value}/{seg(obj_id)}", tenant=tenant), output, render_events)
            return
        page = fetch_list(client, "/v1/audit", all_pages=all_pages, page_size=page_size, cursor=cursor, tenant=tenant,
                          actor=actor, kind=kind.value if kind else None, object=obj_id, type=event_type,
                          **{"from": when(since, "--since"), "to": when(until, "--until")})
        emit_list(page, output, render_audit)


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
