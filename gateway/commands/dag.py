"""A workflow's DAG for the terminal: tasks in stages (longest path from a root), per-task state.

Pure: `tasks_of(workflow)` reads the API's workflow JSON (tasks as a list or a name-keyed
mapping, the spec's `depends_on`/`inputs` either on the task or under `spec.tasks`);
`stages(tasks)` puts every task one stage after the latest task it needs, so a fan-out
shares a stage and a fan-in comes after all its inputs; a task in a cycle or needing an
unknown task (which a valid spec never has) lands in a last stage instead of looping.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text
from rich.tree import Tree

from gateway.commands.render import STATE_STYLE

SYMBOL = {"succeeded": "✔", "failed": "✘", "running": "▶", "ready": "◆", "pending": "○",
          "blocked": "⊘", "cancelled": "■", "retrying": "↻"}


@dataclass(frozen=True)
class DagTask:
    name: str
    needs: tuple[str, ...] = ()
    status: str = "pending"
    job_id: str | None = None
    attempt: int | None = None
    exit_code: int | None = None
    blocked_by: str | None = None


def _needs(task: dict[str, Any]) -> tuple[str, ...]:
    names = list(task.get("depends_on") or [])
    names += [i["task"] for i in task.get("inputs") or [] if isinstance(i, dict) and "task" in i]
    return tuple(dict.fromkeys(names))


def tasks_of(workflow: dict[str, Any]) -> list[DagTask]:
    raw = workflow.get("tasks") or []
    states = [dict(v, name=v.get("name", k)) for k, v in raw.items()] if isinstance(raw, dict) else list(raw)
    spec_tasks = {t["name"]: t for t in (workflow.get("spec") or {}).get("tasks") or []}
    order = list(spec_tasks) + [t["name"] for t in states if t["name"] not in spec_tasks]
    by_name = {t["name"]: t for t in states}
    out = []
    for name in order:
        merged = {**spec_tasks.get(name, {}), **by_name.get(name, {})}
        out.append(DagTask(name, _needs(merged), merged.get("status") or merged.get("state") or "pending",
                           merged.get("job_id"), merged.get("attempt"), merged.get("exit_code"),
                           merged.get("blocked_by")))
    return out


def stages(tasks: list[DagTask]) -> list[list[DagTask]]:
    known = {t.name: t for t in tasks}
    level: dict[str, int] = {}
    for _ in range(len(tasks)):  # relax until stable; a DAG settles in at most len(tasks) rounds
        changed = False
        for t in tasks:
            if any(n not in known for n in t.needs):
                continue
            if all(n in level for n in t.needs):
                new = 1 + max((level[n] for n in t.needs), default=-1)
                if level.get(t.name) != new:
                    level[t.name], changed = new, True
        if not changed:
            break
    depth = max(level.values(), default=-1) + 1
    out: list[list[DagTask]] = [[] for _ in range(depth)]
    stray = []
    for t in tasks:
        (out[level[t.name]] if t.name in level and level[t.name] < depth else stray).append(t)
    return out + ([stray] if stray else [])


def task_label(task: DagTask) -> Text:
    style = STATE_STYLE.get(task.status, "")
    label = Text(f"{SYMBOL.get(task.status, '•')} ", style=style)
    label.append(task.name, style="bold")
    label.append(f"  {task.status}", style=style)
    if task.blocked_by:
        label.append(f" by {task.blocked_by}", style=style)
    if task.exit_code is not None:
        label.append(f" (exit {task.exit_code})", style="dim")
    if task.attempt and task.attempt > 1:
        label.append(f" attempt {task.attempt}", style="dim")
    if task.needs:
        label.append(f"  ← {', '.join(task.needs)}", style="dim")
    if task.job_id:
        label.append(f"  job {task.job_id}", style="dim")
    return label


def render_dag(workflow: dict[str, Any]) -> Tree:
    name = workflow.get("name") or (workflow.get("spec") or {}).get("name") or workflow.get("id", "workflow")
    status = str(workflow.get("status", ""))
    head = Text(f"{name} ", style="bold")
    head.append(f"{workflow.get('id', '')} ", style="dim")
    head.append(status, style=STATE_STYLE.get(status, ""))
    tree = Tree(head)
    for i, stage in enumerate(stages(tasks_of(workflow)), 1):
        branch = tree.add(Text(f"stage {i}", style="dim"))
        for task in stage:
            branch.add(task_label(task))
    return tree
