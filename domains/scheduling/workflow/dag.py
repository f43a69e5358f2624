"""The graph a workflow runs by, built once from a valid `WorkflowSpec`.

Guarantees:
- `upstream[t]` is everything task `t` waits for: its dependencies and the
  tasks it takes inputs from; a barrier group's members all wait for the
  group's outside dependencies (see `graph.effective_upstream`).
- `downstream_of(t)` is every task that transitively waits for `t`, in
  declaration order: what a final failure of `t` blocks.
- `ready_order(names)` orders tasks that became ready at the same moment:
  declaration order, except that a group's members stay together with the
  lead first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from domains.scheduling.workflow.graph import Node, effective_upstream
from schemas.workflows import WorkflowSpec


@dataclass(frozen=True, slots=True)
class Dag:
    order: tuple[str, ...]
    upstream: Mapping[str, frozenset[str]]
    downstream: Mapping[str, frozenset[str]]
    group_of: Mapping[str, str | None]
    lead_of: Mapping[str, str]  # group name -> lead task

    def downstream_of(self, task: str) -> list[str]:
        found: set[str] = set()
        todo = [task]
        while todo:
            for nxt in self.downstream[todo.pop()]:
                if nxt not in found:
                    found.add(nxt)
                    todo.append(nxt)
        return [t for t in self.order if t in found]

    def ready_order(self, names: Iterable[str]) -> list[str]:
        chosen = set(names)
        ordered: list[str] = []
        for name in self.order:
            if name not in chosen or name in ordered:
                continue
            group = self.group_of[name]
            if group is None:
                ordered.append(name)
                continue
            lead = self.lead_of[group]
            members = [t for t in self.order if t in chosen and self.group_of[t] == group]
            ordered += sorted(members, key=lambda t: t != lead)  # stable: lead first
        return ordered


def build_dag(spec: WorkflowSpec) -> Dag:
    nodes = [
        Node(t.name, (*t.depends_on, *(ref.task for ref in t.inputs)), t.group) for t in spec.tasks
    ]
    upstream = effective_upstream(nodes, {g.name for g in spec.groups if g.barrier})
    downstream: dict[str, set[str]] = {t.name: set() for t in spec.tasks}
    for task, deps in upstream.items():
        for dep in deps:
            downstream[dep].add(task)
    return Dag(
        order=tuple(t.name for t in spec.tasks),
        upstream=MappingProxyType(upstream),
        downstream=MappingProxyType({t: frozenset(d) for t, d in downstream.items()}),
        group_of=MappingProxyType({t.name: t.group for t in spec.tasks}),
        lead_of=MappingProxyType({g.name: g.lead for g in spec.groups}),
    )
