"""The demo of `tessera up --demo`: a workflow submitted through the HTTP API, watched to its end.

It uses only the public API, as a user would (the admin token `tessera up`
wrote to cli.json): waits until every node of the fleet is registered, submits
the workflow spec (YAML, as `tessera workflows submit` sends it) with a fixed
Idempotency-Key (a restart of `tessera up --demo` on the same home shows the
same workflow instead of starting a second one), reports each task's state
change as it happens, and finally the log lines of the workflow's last task.
Failures of the demo are reported, never raised: the platform stays up.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from pathlib import Path

import httpx

from gateway.client import load_config

ENDED = ("succeeded", "failed", "cancelled", "timed_out")
Report = Callable[[str], None]


async def run_demo(url: str, home: Path, spec: Path, *, report: Report | None = None,
                   poll: float = 0.5, min_nodes: int = 1) -> dict | None:
    say = report or print
    token = load_config({"TESSERA_HOME": str(home)}).token
    body = spec.read_bytes()
    key = "demo-" + hashlib.sha256(body).hexdigest()[:16]
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as http:
        try:
            await _wait_for_nodes(http, min_nodes)
            r = await http.post("/v1/workflows", content=body,
                                headers={"Content-Type": "application/yaml", "Idempotency-Key": key})
            if r.status_code >= 400:
                say(f"demo: the workflow was refused: {r.json()['error']['message']}")
                return None
            wid = r.json()["id"]
            say(f"demo: workflow {wid} submitted ({spec}); follow it with `./tessera workflows show {wid}`")
            final = await _watch(http, wid, say, poll)
            await _show_last_logs(http, final, say)
            return final
        except (httpx.HTTPError, KeyError, ValueError) as exc:
            say(f"demo: stopped ({type(exc).__name__}: {exc})")
            return None


async def _wait_for_nodes(http: httpx.AsyncClient, min_nodes: int, timeout: float = 60) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        r = await http.get("/v1/nodes", params={"page_size": min_nodes})
        if r.status_code == 200 and len(r.json()["items"]) >= min_nodes:
            return
        await asyncio.sleep(0.2)


async def _watch(http: httpx.AsyncClient, wid: str, say: Report, poll: float) -> dict:
    seen: dict[str, str] = {}
    while True:
        r = await http.get(f"/v1/workflows/{wid}")
        r.raise_for_status()
        wf = r.json()
        for task in wf["tasks"]:
            if seen.get(task["name"]) != task["status"]:
                seen[task["name"]] = task["status"]
                where = f" (job {task['job_id']})" if task.get("job_id") else ""
                say(f"demo:   {task['name']:<14} {task['status']}{where}")
        if wf["status"] in ENDED:
            say(f"demo: workflow {wid} {wf['status']}")
            return wf
        await asyncio.sleep(poll)


async def _show_last_logs(http: httpx.AsyncClient, wf: dict, say: Report) -> None:
    last = wf["tasks"][-1]
    if not last.get("job_id"):
        return
    r = await http.get(f"/v1/jobs/{last['job_id']}/logs")
    if r.status_code != 200:
        return
    for item in r.json().get("items", []):
        say(f"demo:   [{last['name']}] {item['line']}")
    say(f"demo: logs of any task: `./tessera jobs logs <job id>`; usage: `./tessera usage`")
