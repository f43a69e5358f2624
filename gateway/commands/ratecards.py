"""`tessera ratecards publish FILE [--dry-run] | list | show VERSION`: the platform's prices over /v1/ratecards.

`publish` sends the file as-is (JSON or YAML, by its suffix or first character;
`-` is stdin) and prints `rate card <version>: published`; `--dry-run` has the
gateway validate the card and decide it against the published versions without
publishing anything. Every problem of a bad card is printed with its path
(`gpu_prices.H100.tiers[1].up_to: ...`). Publishing is for platform admins;
every caller may list and show the cards (prices are public to tenants).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Group

from gateway.commands.common import (
    AllPagesOpt,
    CursorOpt,
    Output,
    OutputOpt,
    PageSizeOpt,
    connect,
    emit,
    emit_accepted,
    emit_list,
    fetch_list,
    handles_errors,
    post_spec,
    print_json,
    stdout,
)
from gateway.commands.render import details, table

app = typer.Typer(help="Rate cards: the platform's versioned prices.", no_args_is_help=True)

SCHEMES = (("gpu", "gpu_prices", "GPU-hour"), ("prompt", "prompt_prices", "1k prompt tokens"),
           ("completion", "completion_prices", "1k completion tokens"))


def _price(p: dict[str, Any]) -> str:
    if p.get("scheme") == "graduated":
        return "; ".join(f'{t["unit_price"]} up to {t["up_to"]}' if t.get("up_to") is not None
                         else f'{t["unit_price"]} after' for t in p.get("tiers", []))
    if p.get("scheme") == "package":
        return f'{p.get("package_price")} per {p.get("package_size")} (rounded {p.get("package_rounding")})'
    return str(p.get("unit_price"))


def price_rows(card: dict[str, Any]) -> list[dict[str, Any]]:
    rows = [{"kind": "gpu", "item": k, "scheme": "per_unit", "unit": "GPU-hour", "price": v}
            for k, v in card.get("gpu_hour", {}).items()]
    rows += [{"kind": "tokens", "item": k, "scheme": "per_unit", "unit": "1k tokens", "price": v}
             for k, v in card.get("tokens_1k", {}).items()]
    for kind, key, unit in SCHEMES:
        rows += [{"kind": kind, "item": k, "scheme": p.get("scheme"), "unit": unit, "price": _price(p)}
                 for k, p in card.get(key, {}).items()]
    return rows


def _models(card: dict[str, Any]) -> str:
    names = {*card.get("gpu_hour", {}), *card.get("tokens_1k", {}),
             *(m for _, key, _ in SCHEMES for m in card.get(key, {}))}
    return ", ".join(sorted(names))


@app.command("publish")
@handles_errors
def publish(file: Annotated[str, typer.Argument(help="The rate card: a JSON or YAML file, or - for stdin.")],
            dry_run: Annotated[bool, typer.Option("--dry-run", help="Validate only; publish nothing.")] = False,
            output: OutputOpt = Output.table) -> None:
    """Publish a rate card version (platform admins); published versions never change."""
    with connect() as client:
        answer = post_spec(client, "/v1/ratecards", file, dry_run="true" if dry_run else None)
    if not dry_run:
        emit_accepted(answer, output, "rate card")
    elif output is Output.json:
        print_json(answer)
    else:
        stdout.print(f'rate card v{answer["version"]} is valid (dry run: nothing published)', markup=False)


@app.command("list")
@handles_errors
def ratecards_list(output: OutputOpt = Output.table, all_pages: AllPagesOpt = False, page_size: PageSizeOpt = None,
                   cursor: CursorOpt = None) -> None:
    """List rate card versions, newest first."""
    with connect() as client:
        page = fetch_list(client, "/v1/ratecards", all_pages=all_pages, page_size=page_size, cursor=cursor)
    emit_list(page, output, lambda items: table(items, [
        ("version", "version"), ("effective from", "effective_from"), ("currency", "currency"),
        ("in force", "in_force"), ("priced", _models)]))


@app.command("show")
@handles_errors
def show(version: Annotated[int, typer.Argument(help="The version, e.g. 2.")], output: OutputOpt = Output.table
         ) -> None:
    """One rate card version with every price."""
    with connect() as client:
        card = client.get(f"/v1/ratecards/{version}")

    def render(c: dict[str, Any]):
        head = {k: c[k] for k in ("version", "effective_from", "currency", "in_force") if k in c}
        prices = table(price_rows(c), [("kind", "kind"), ("item", "item"), ("scheme", "scheme"), ("per", "unit"),
                                       (f'price ({c.get("currency")})', "price")])
        return Group(details(head), prices)

    emit(card, output, render)
