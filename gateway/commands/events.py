"""An object's events as a table (jobs events, workflows events, audit): time, event, actor, data."""

from __future__ import annotations

import json
import re
from typing import Any

from rich.table import Table

from gateway.commands.render import items_of

_SHORT = re.compile(r"^tessera\.[a-z_]+\.([a-z_]+)\.v\d+$")
_NOISE = {"spec"}  # whole specs make unreadable rows; `-o json` has them
_LONG = 80  # a nested value longer than this is elided in tables


def short_type(type_: str) -> str:
    m = _SHORT.match(type_ or "")
    return m.group(1) if m else str(type_ or "")


def summary(data: Any) -> str:
    if not isinstance(data, dict):
        return "" if data is None else str(data)
    parts = []
    for key, value in data.items():
        if key in _NOISE or value in (None, "", [], {}):
            continue
        if isinstance(value, dict) and "code" in value:  # a WaitReason
            details = ", ".join(f"{k}={v}" for k, v in (value.get("details") or {}).items())
            value = f"{value['code']}{{{details}}}" if details else value["code"]
        elif isinstance(value, (dict, list)):
            text = json.dumps(value, separators=(",", ":"), default=str)
            value = text if len(text) <= _LONG else ("{…}" if isinstance(value, dict) else f"[{len(value)} items]")
        parts.append(f"{key}={value}")
    return " ".join(parts)


def render_events(data: Any) -> Table:
    t = Table("time", "event", "actor", "data")
    for e in items_of(data):
        t.add_row(str(e.get("time", "")), short_type(str(e.get("type", ""))), str(e.get("actor") or ""),
                  summary(e.get("data")))
    return t
