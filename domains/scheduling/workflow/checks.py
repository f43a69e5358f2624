"""The graph rules of a workflow spec, checked on the raw document so every problem shows at once.

Reads plain data (the parsed YAML or a dumped `WorkflowSpec`) defensively:
entries of the wrong shape are skipped here because schema validation
already reports them. Each problem names its path, e.g.
`tasks[2].depends_on[0]: unknown task 'x'`. Rules: unique task and group
names and outputs; dependencies, inputs (task and output) and groups must
exist; a group has members and its lead is one of them; members of a
barrier group start together, so they cannot wait for each other; exit-code
keys parse and do not overlap; `max_retries` (the job's own retry) is
replaced by `retries` in a workflow; no dependency cycles, including those
that only appear through a barrier group's shared start.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from domains.scheduling.workflow import exit_codes
from domains.scheduling.workflow.graph import Node, effective_upstream, find_cycles
from schemas.workflows import Problem

Entries = list[tuple[int, Mapping[str, Any]]]


@dataclass(frozen=True)
class _Doc:
    tasks: Entries
    task_at: dict[str, int]  # name -> index of its first definition
    group_at: dict[str, int]
    outputs: dict[str, set[str]]
    groups_of_tasks: dict[str, str]  # task -> group, first definitions
    barrier: set[str]


def graph_problems(data: Mapping[str, Any]) -> list[Problem]:
    problems: list[Problem] = []
    tasks, groups = _entries(data, "tasks"), _entries(data, "groups")
    task_at = _first_index(tasks, "tasks", "task", problems)
    by_index = dict(tasks)
    firsts = [(name, by_index[at]) for name, at in task_at.items()]
    doc = _Doc(
        tasks=tasks, task_at=task_at, group_at=_first_index(groups, "groups", "group", problems),
        outputs={name: {o for _, o in _items(t, "outputs") if isinstance(o, str)} for name, t in firsts},
        groups_of_tasks={name: t["group"] for name, t in firsts if isinstance(t.get("group"), str)},
        barrier={g["name"] for _, g in groups if isinstance(g.get("name"), str) and g.get("barrier") is not False},
    )
    nodes = []
    for i, task in tasks:
        problems += _local_problems(f"tasks[{i}]", task)
        deps = _reference_problems(doc, i, task, problems)
        if isinstance(task.get("name"), str) and task_at[task["name"]] == i:
            nodes.append(Node(task["name"], tuple(deps), doc.groups_of_tasks.get(task["name"])))
    problems += _group_problems(doc, groups)
    problems += _cycle_problems(nodes, doc.barrier)
    return problems


def _entries(data: Mapping[str, Any], key: str) -> Entries:
    items = data.get(key)
    return [(i, it) for i, it in enumerate(items) if isinstance(it, Mapping)] if isinstance(items, list) else []


def _items(entry: Mapping[str, Any], key: str) -> list[tuple[int, Any]]:
    items = entry.get(key)
    return list(enumerate(items)) if isinstance(items, list) else []


def _first_index(entries: Entries, path: str, kind: str, problems: list[Problem]) -> dict[str, int]:
    first: dict[str, int] = {}
    for i, entry in entries:
        name = entry.get("name")
        if isinstance(name, str) and name in first:
            problems.append(Problem(path=f"{path}[{i}].name",
                                    message=f"duplicate {kind} {name!r} (first at {path}[{first[name]}])"))
        elif isinstance(name, str):
            first[name] = i
    return first


def _local_problems(here: str, task: Mapping[str, Any]) -> list[Problem]:
    problems, seen = [], set()
    for j, out in _items(task, "outputs"):
        if isinstance(out, str) and out in seen:
            problems.append(Problem(path=f"{here}.outputs[{j}]", message=f"duplicate output {out!r}"))
        seen.add(out if isinstance(out, str) else None)
    if task.get("max_retries") not in (None, 0):
        problems.append(Problem(path=f"{here}.max_retries",
                                message="a workflow task retries with 'retries', not 'max_retries'"))
    actions = task.get("exit_actions")
    if isinstance(actions, Mapping):
        for key, problem in exit_codes.key_problems({str(k): v for k, v in actions.items()}):
            problems.append(Problem(path=f"{here}.exit_actions.{key}", message=problem))
    return problems


def _reference_problems(doc: _Doc, i: int, task: Mapping[str, Any], problems: list[Problem]) -> list[str]:
    """Checks the task's references, appending problems; returns the known tasks it waits for."""
    here, name = f"tasks[{i}]", task.get("name")
    group = task.get("group") if isinstance(task.get("group"), str) else None
    refs = [(f"{here}.depends_on[{j}]", dep, None) for j, dep in _items(task, "depends_on")]
    refs += [(f"{here}.inputs[{j}]", ref.get("task"), ref.get("output"))
             for j, ref in _items(task, "inputs") if isinstance(ref, Mapping)]
    deps = []
    for path, source, output in refs:
        if not isinstance(source, str):
            continue
        at = path if output is None else f"{path}.task"
        if source not in doc.task_at:
            problems.append(Problem(path=at, message=f"unknown task {source!r}"))
            continue
        deps.append(source)
        if isinstance(output, str) and output not in doc.outputs[source]:
            problems.append(Problem(path=f"{path}.output", message=f"task {source!r} has no output {output!r}"))
        if group in doc.barrier and source != name and doc.groups_of_tasks.get(source) == group:
            problems.append(Problem(path=at, message=(
                f"{source!r} is in the same barrier group {group!r}; members start together")))
    if group is not None and group not in doc.group_at:
        problems.append(Problem(path=f"{here}.group", message=f"unknown group {group!r}"))
    return deps


def _group_problems(doc: _Doc, groups: Entries) -> list[Problem]:
    problems = []
    used = {t.get("group") for _, t in doc.tasks if isinstance(t.get("group"), str)}
    for k, group in groups:
        name, lead = group.get("name"), group.get("lead")
        if not isinstance(name, str):
            continue
        if name not in used:
            problems.append(Problem(path=f"groups[{k}]", message=f"group {name!r} has no member tasks"))
        if not isinstance(lead, str):
            continue
        if lead not in doc.task_at:
            problems.append(Problem(path=f"groups[{k}].lead", message=f"unknown task {lead!r}"))
        elif doc.groups_of_tasks.get(lead) != name:
            problems.append(Problem(path=f"groups[{k}].lead",
                                    message=f"lead task {lead!r} is not a member of group {name!r}"))
    return problems


def _cycle_problems(nodes: list[Node], barrier: set[str]) -> list[Problem]:
    order = [n.name for n in nodes]
    cycles = find_cycles({n.name: frozenset(n.deps) for n in nodes}, order)
    if cycles:
        return [Problem(path="tasks", message="dependency cycle " + " -> ".join(c)) for c in cycles]
    return [Problem(path="groups", message=(
        "dependency cycle through a barrier group (members wait for each other's dependencies) "
        + " -> ".join(c))) for c in find_cycles(effective_upstream(nodes, barrier), order)]
