"""What every client command shares: the output switch, stdout/stderr, errors, spec files.

Guarantees:
- `-o json` writes the API's JSON (and nothing else) on stdout; tables, progress and hints
  go through Rich (tables on stdout, everything else on stderr).
- A failure is `error: <message> (field: <path>)` on stderr and exit code 1, never a
  traceback (even for a bug of the CLI's own, unless TESSERA_DEBUG is set); a server that lists several spec problems gets every one printed, one per line.
- `tessera --as-of <seq|time> ...` sends `X-Tessera-As-Of` with every request: reads answer
  the past state, commands are refused by the gateway (the past is read-only).
- Spec files are sent as-is: `.json` as application/json, `.yaml`/`.yml` as
  application/yaml, anything else by its first character (`{` = JSON); `-` is stdin.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar
from urllib.parse import quote

import click
import typer
from rich.console import Console

from gateway.client import Client, ClientError, load_config

stdout = Console(highlight=False)
stderr = Console(stderr=True, highlight=False)
F = TypeVar("F", bound=Callable[..., Any])


class Output(str, Enum):
    table = "table"
    json = "json"


OutputOpt = Annotated[Output, typer.Option("--output", "-o", help="table, or json (the API's JSON, for scripts)")]


def fail(message: str, *details: str) -> NoReturn:
    stderr.print(f"error: {message}", markup=False, soft_wrap=True)
    for line in details:
        stderr.print(f"  {line}", markup=False, soft_wrap=True)
    raise typer.Exit(1)


def problem_line(p: dict[str, Any]) -> str:
    where = p.get("path") or p.get("field") or "(document)"
    line = f" (line {p['line']})" if p.get("line") else ""
    return f"{where}: {p.get('message', '')}{line}"


def error_lines(exc: ClientError) -> tuple[str, list[str]]:
    """The headline and, when the server listed several problems, one line for each."""
    problems = [p for p in exc.problems if isinstance(p, dict)]
    if len(problems) > 1:
        return f"{len(problems)} problems", [problem_line(p) for p in problems]
    if problems and problems[0].get("line"):
        return f"{exc} (line {problems[0]['line']})", []
    return str(exc), []


def handles_errors(fn: F) -> F:
    """Turn client errors into one `error:` line (plus one line per spec problem) and exit 1."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ClientError as exc:
            headline, lines = error_lines(exc)
            fail(headline, *lines)
        except KeyboardInterrupt:
            raise typer.Exit(130) from None
        except (typer.Exit, typer.Abort, click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except Exception as exc:  # a bug of ours still ends in one line, unless asked for the traceback
            if os.environ.get("TESSERA_DEBUG"):
                raise
            fail(f"unexpected {type(exc).__name__}: {exc} (TESSERA_DEBUG=1 shows the traceback)")

    return wrapper  # type: ignore[return-value]


AS_OF_ENV = "TESSERA_AS_OF"
_as_of: str | None = None


def global_options(
    as_of: Annotated[str | None, typer.Option(
        "--as-of", envvar=AS_OF_ENV, help="Read the state as it was at this log sequence or time (ISO 8601); "
        "reads only: a command is refused.")] = None,
) -> None:
    """Tessera: an event-sourced control plane for GPU clouds."""
    global _as_of
    _as_of = as_of


@contextmanager
def connect() -> Iterator[Client]:
    with Client.from_config(load_config()) as client:
        if _as_of:  # the gateway answers reads from the past state and refuses writes (gateway/http/asof.py)
            client._http.headers["X-Tessera-As-Of"] = _as_of
        yield client


def seg(value: str) -> str:
    """An id as one URL path segment (a `/` or `..` in it can never reach another route)."""
    return value.replace(".", "%2E") if value in (".", "..") else quote(value, safe="")


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
    sys.stdout.flush()


def emit(data: Any, output: Output, render: Callable[[Any], Any]) -> None:
    """JSON on stdout for scripts, or the rendering of `render(data)` for people."""
    if output is Output.json:
        print_json(data)
    else:
        stdout.print(render(data))


def read_spec(path: str) -> tuple[bytes, str]:
    """The file's bytes and the content type they are sent with."""
    try:
        body = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror or exc}")
    suffix = Path(path).suffix.lower()
    if suffix == ".json":
        return body, "application/json"
    if suffix in (".yaml", ".yml"):
        return body, "application/yaml"
    return body, ("application/json" if body.lstrip().startswith(b"{") else "application/yaml")


def post_spec(client: Client, path: str, file: str, *, headers: dict[str, str] | None = None,
              **params: Any) -> Any:
    body, content_type = read_spec(file)
    return client.request("POST", path, content=body, params={k: v for k, v in params.items() if v},
                          headers={"Content-Type": content_type, **(headers or {})})


AllPagesOpt = Annotated[bool, typer.Option("--all-pages", help="Follow next_cursor to the end.")]
PageSizeOpt = Annotated[int | None, typer.Option("--page-size", help="Items per page (server default 50, max 500).")]
CursorOpt = Annotated[str | None, typer.Option("--cursor", help="Continue from a previous page's next_cursor.")]
TenantOpt = Annotated[str | None, typer.Option("--tenant", help="Act on another tenant (platform admins).")]


def tenant_header(tenant: str | None) -> dict[str, str]:
    return {"X-Tessera-Tenant": tenant} if tenant else {}


def fetch_list(client: Client, path: str, *, all_pages: bool = False, page_size: int | None = None,
               cursor: str | None = None, **params: Any) -> dict[str, Any]:
    """One page as the API answers it, or every page folded into one {"items", "next_cursor": null}."""
    if all_pages:
        return {"items": list(client.pages(path, page_size=page_size, cursor=cursor, **params)), "next_cursor": None}
    return client.get(path, page_size=page_size, cursor=cursor, **params)


def emit_list(page: dict[str, Any], output: Output, render: Callable[[list[dict[str, Any]]], Any]) -> None:
    if output is Output.json:
        print_json(page)
        return
    stdout.print(render(page.get("items", [])))
    if page.get("next_cursor"):
        stderr.print(f"more: --cursor {page['next_cursor']} (or --all-pages)", markup=False)


def emit_accepted(answer: dict[str, Any], output: Output, what: str) -> None:
    """A command's 202 answer: JSON as-is, or `<what> <id>: <status>`."""
    if output is Output.json:
        print_json(answer)
    else:
        stdout.print(f"{what} {answer.get('id')}: {answer.get('status')}", markup=False)


def create_secret(path: str, body: dict[str, Any], tenant: str | None, output: Output, field: str,
                  warning: str) -> None:
    """POST a credential (token, API key) and show its secret once: alone on stdout (or the JSON), the
    warning on stderr, so `X=$(tessera tokens create ci)` captures only the secret."""
    with connect() as client:
        answer = client.post(path, {k: v for k, v in body.items() if v is not None}, headers=tenant_header(tenant))
    if output is Output.json:
        print_json(answer)
    else:
        stdout.print(answer.get(field), markup=False, soft_wrap=True)
    stderr.print(f"[yellow]warning:[/yellow] {warning.format(**answer)} is shown only now; store it safely, "
                 "it cannot be read again.")
