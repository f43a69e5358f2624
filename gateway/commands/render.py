"""Rich renderings of API objects for people: tables, key/value views, states in colour.

Pure functions of the JSON the API answers; unknown or missing fields show as empty, so a
field the gateway adds later never breaks a table.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from rich.table import Table
from rich.text import Text

STATE_STYLE = {
    "succeeded": "green", "healthy": "green", "active": "green", "valid": "green",
    "running": "cyan", "starting": "cyan", "placed": "blue", "ready": "blue",
    "admitted": "blue", "submitted": "white", "queued": "white", "pending": "dim",
    "failed": "bold red", "rejected": "red", "lost": "red", "timed_out": "red", "disabled": "red",
    "cancelled": "yellow", "retrying": "yellow", "preempted": "magenta", "blocked": "yellow", "cordoned": "yellow",
    "draining": "yellow", "revoked": "yellow", "expired": "yellow", "unknown": "dim",
}
TERMINAL_OK = {"succeeded"}

Column = tuple[str, str | Callable[[dict[str, Any]], Any]]


def state(value: Any) -> Text:
    text = "" if value is None else str(value)
    return Text(text, style=STATE_STYLE.get(text, ""))


def cell(value: Any) -> str | Text:
    if isinstance(value, Text):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(str(cell(v)) for v in value)
    return str(value)


def pick(item: dict[str, Any], key: str | Callable[[dict[str, Any]], Any]) -> Any:
    if callable(key):
        return key(item)
    value: Any = item
    for part in key.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return state(value) if part in ("status", "state", "health") else value


def table(items: Iterable[dict[str, Any]], columns: Sequence[Column], *, title: str | None = None) -> Table:
    t = Table(title=title, title_justify="left")
    for header, _ in columns:
        t.add_column(header, overflow="fold")  # wrap, never cut: ids must stay copyable
    for item in items:
        t.add_row(*(cell(pick(item, key)) for _, key in columns))
    return t


def details(item: dict[str, Any], *, skip: Iterable[str] = ()) -> Table:
    """One object as `field  value` rows (nested objects flattened one level)."""
    t = Table(show_header=False, box=None, pad_edge=False)
    t.add_column(style="bold")
    t.add_column()
    skipped = set(skip)
    for key, value in item.items():
        if key in skipped:
            continue
        if isinstance(value, dict) and value and all(not isinstance(v, (dict, list)) for v in value.values()):
            value = cell(value)
        elif isinstance(value, (dict, list)) and value and any(isinstance(v, (dict, list)) for v in
                                                                (value.values() if isinstance(value, dict) else value)):
            value = json.dumps(value, default=str)
        t.add_row(key, state(value) if key in ("status", "state", "health") else cell(value))
    return t


def items_of(data: Any) -> list[dict[str, Any]]:
    if isinstance(data, dict) and "items" in data:
        return list(data["items"])
    return list(data) if isinstance(data, list) else [data]
