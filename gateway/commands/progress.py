"""`--wait`: follow a job or workflow live until it ends; the exit code says how it ended.

The watch stream (SSE of the object's events) drives a Rich status line on stderr and one
line per state transition. The outcome is never taken from the stream alone: when the stream
ends (or shows a terminal event) the object is read back with GET, and if it is still not
terminal (stream cut short) the CLI polls GET until it is. Exit 0 only for `succeeded`;
anything else ends with one `error:` line naming the state and its reason.
"""

from __future__ import annotations

import re
import time
from typing import Any

from gateway.client import Client, ClientError, SseEvent
from gateway.commands.common import fail, seg, stderr

TERMINAL = {"succeeded", "failed", "cancelled", "preempted", "rejected", "timed_out"}
_TYPE = re.compile(r"^(?:tessera\.[a-z_]+\.)?([a-z_]+?)(?:\.v\d+)?$")
_POLL_S = 0.5


def event_name(ev: SseEvent) -> tuple[str, dict[str, Any]]:
    """(`job_placed`, event data) from an SSE frame: the type is the envelope's, else the frame's name."""
    body = ev.json() if ev.data.lstrip().startswith("{") else {}
    body = body if isinstance(body, dict) else {}
    raw = str(body.get("type") or ev.event)
    m = _TYPE.match(raw)
    payload = body.get("data") if isinstance(body.get("data"), dict) else body
    return (m.group(1) if m else raw), payload


def transition(kind: str, name: str, data: dict[str, Any]) -> tuple[str | None, str]:
    """(new state of the object or None, a one-line description) for one event."""
    if name.startswith(f"{kind}_"):
        new = name.removeprefix(f"{kind}_")
        reason = data.get("reason")
        if isinstance(reason, dict):
            reason = reason.get("code")
        where = ", ".join(f"{p.get('cluster')}/{p.get('node')}" for p in data.get("placements") or [])
        extra = " ".join(x for x in (where, str(reason) if reason else "") if x)
        return new, f"{new} {extra}".strip()
    if name.startswith("task_") and data.get("task"):
        code = data.get("exit_code")
        return None, f"task {data['task']}: {name.removeprefix('task_')}" + (f" (exit {code})" if code is not None else "")
    return None, name


def wait(client: Client, kind: str, obj_id: str) -> dict[str, Any]:
    """Follow `kind` ("job" or "workflow") `obj_id` to a terminal state; the object as read then."""
    path = f"/v1/{kind}s/{seg(obj_id)}"
    state = "submitted"
    with stderr.status(f"{kind} {obj_id}: {state}") as status:
        try:
            for ev in client.stream(f"{path}/watch"):
                if ev.event == "end":
                    break
                new, line = transition(kind, *event_name(ev))
                stderr.print(f"  {time.strftime('%H:%M:%S')} {line}", markup=False)
                if new:
                    state = new
                    status.update(f"{kind} {obj_id}: {state}")
                if new in TERMINAL:
                    break
        except ClientError as exc:
            if exc.status not in (0, 404, 405):  # no watch here (or it broke): polling still answers
                raise
        obj = client.get(path)
        while str(obj.get("status")) not in TERMINAL:
            status.update(f"{kind} {obj_id}: {obj.get('status')}")
            time.sleep(_POLL_S)
            obj = client.get(path)
    return obj


def finish(kind: str, obj: dict[str, Any]) -> None:
    """Exit 1 with one line naming the end state and its reason, unless `obj` succeeded."""
    final = str(obj.get("status"))
    if final != "succeeded":
        reason = obj.get("reason") or ""
        code = obj.get("exit_code")
        detail = "; ".join(x for x in (str(reason), f"exit code {code}" if code is not None else "") if x)
        fail(f"{kind} {obj.get('id')} {final}" + (f": {detail}" if detail else ""))
    stderr.print(f"{kind} {obj.get('id')} [green]succeeded[/green]")
