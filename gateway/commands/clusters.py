"""`tessera clusters | nodes`: onboard clusters from spec files, read the fleet, cordon/drain nodes.

`clusters onboard FILE --dry-run` asks the gateway to validate only (nothing is onboarded) and
exits 1 when the spec has problems, printing every one with its path and line; without
`--dry-run` the same problems come back as a 422 and are printed the same way.
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
    connect,
    emit_accepted,
    emit_list,
    fail,
    fetch_list,
    handles_errors,
    post_spec,
    print_json,
    problem_line,
    seg,
    stderr,
    stdout,
)
from gateway.commands.render import details, table

clusters = typer.Typer(help="GPU clusters: onboard, inspect, cordon and drain nodes.", no_args_is_help=True)
nodes = typer.Typer(help="Nodes of the fleet.", no_args_is_help=True)

ReasonOpt = Annotated[str | None, typer.Option("--reason", help="Why (kept in the audit trail).")]
CLUSTER_COLUMNS = [("name", "name"), ("region", "region"), ("backend", "backend"), ("pools", "pools"),
                   ("nodes", "nodes"), ("GPUs", "gpus_total"), ("labels", "labels")]


NODE_COLUMNS = [("cluster", "cluster"), ("node", "name"), ("pool", "pool"), ("GPU model", "gpu_model"),
                ("GPUs", "gpus_total"), ("used", "gpus_used"), ("status", "status"), ("health", "health"),
                ("rack", "rack"), ("nvlink", "nvlink_domain")]


@clusters.command("onboard")
@handles_errors
def onboard(file: Annotated[str, typer.Argument(help="Cluster spec, YAML or JSON ('-' = stdin).")],
            dry_run: Annotated[bool, typer.Option("--dry-run", help="Validate only; onboard nothing.")] = False,
            output: OutputOpt = Output.table) -> None:
    """Onboard a cluster from its spec file (or only check it with --dry-run)."""
    with connect() as client:
        answer = post_spec(client, "/v1/clusters", file, dry_run="true" if dry_run else None)
    if not dry_run:
        emit_accepted(answer, output, "cluster")
        return
    problems = answer.get("problems") or []
    if output is Output.json:
        print_json(answer)
    elif answer.get("valid"):
        stdout.print(f"{file}: valid (nothing onboarded: dry run)", markup=False)
        if answer.get("summary"):
            stdout.print(details(answer["summary"]))
    if not answer.get("valid"):
        if output is Output.json:
            raise typer.Exit(1)
        fail(f"{file}: {len(problems)} problem(s)", *(problem_line(p) for p in problems))


@clusters.command("list")
@handles_errors
def clusters_list(output: OutputOpt = Output.table, all_pages: AllPagesOpt = False,
                  page_size: PageSizeOpt = None, cursor: CursorOpt = None) -> None:
    """List clusters."""
    with connect() as client:
        page = fetch_list(client, "/v1/clusters", all_pages=all_pages, page_size=page_size, cursor=cursor)
    emit_list(page, output, lambda items: table(items, CLUSTER_COLUMNS))


@clusters.command("show")
@handles_errors
def clusters_show(name: str, output: OutputOpt = Output.table) -> None:
    """One cluster and its nodes."""
    with connect() as client:
        cluster = client.get(f"/v1/clusters/{seg(name)}")
        if output is Output.json:
            print_json(cluster)
            return
        members = list(client.pages("/v1/nodes", cluster=name))
    stdout.print(details(cluster))
    stdout.print(table(members, NODE_COLUMNS, title=f"nodes ({len(members)})"))


def _node_command(verb: str, cluster: str, node: str, reason: str | None, output: Output) -> None:
    with connect() as client:
        answer = client.post(f"/v1/clusters/{seg(cluster)}/nodes/{seg(node)}/{verb}",
                             {"reason": reason} if reason else {})
    emit_accepted(answer, output, "node")


@clusters.command("cordon")
@handles_errors
def cordon(cluster: str, node: str, reason: ReasonOpt = None, output: OutputOpt = Output.table) -> None:
    """Stop placing new work on a node."""
    _node_command("cordon", cluster, node, reason, output)


@clusters.command("uncordon")
@handles_errors
def uncordon(cluster: str, node: str, reason: ReasonOpt = None, output: OutputOpt = Output.table) -> None:
    """Allow placements on a node again."""
    _node_command("uncordon", cluster, node, reason, output)


@clusters.command("drain")
@handles_errors
def drain(cluster: str, node: str, reason: ReasonOpt = None, output: OutputOpt = Output.table) -> None:
    """Cordon a node and move or stop what runs there."""
    _node_command("drain", cluster, node, reason, output)
    if output is Output.table:
        stderr.print("[dim]running jobs are rescheduled or stopped per their on_node_lost[/dim]")


@nodes.command("list")
@handles_errors
def nodes_list(
    cluster: Annotated[str | None, typer.Option(help="Only this cluster.")] = None,
    pool: Annotated[str | None, typer.Option(help="Only this pool.")] = None,
    state: Annotated[str | None, typer.Option(help="Only nodes in this state.")] = None,
    output: OutputOpt = Output.table, all_pages: AllPagesOpt = False,
    page_size: PageSizeOpt = None, cursor: CursorOpt = None,
) -> None:
    """List nodes, their GPUs in use, health and cordon state."""
    with connect() as client:
        page = fetch_list(client, "/v1/nodes", all_pages=all_pages, page_size=page_size, cursor=cursor,
                          cluster=cluster, pool=pool, state=state)
    emit_list(page, output, lambda items: table(items, NODE_COLUMNS))
