"""The dependency graph of a workflow, from plain names: effective upstream edges and cycles.

Works on `Node`s (name, direct dependencies, group) so the same rules serve
the validator, which must read a spec that failed schema validation, and
the aggregate, which reads a valid `WorkflowSpec`.

Guarantees:
- A task's direct dependencies are its `depends_on` plus the tasks whose
  outputs it consumes (`inputs`).
- A member of a barrier group waits for the group: its effective upstream is
  every dependency of any member outside the group, so members become ready
  together. Edges to unknown names are dropped (the validator reports them).
- `find_cycles` reports one cycle per strongly connected component, as a path
  that starts and ends at its first task in declaration order; deterministic.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import NamedTuple


class Node(NamedTuple):
    name: str
    deps: tuple[str, ...]
    group: str | None


def effective_upstream(nodes: Sequence[Node], barrier_groups: Collection[str]) -> dict[str, frozenset[str]]:
    known = {n.name for n in nodes}
    external: dict[str, set[str]] = {}
    for n in nodes:
        if n.group in barrier_groups:
            members = {m.name for m in nodes if m.group == n.group}
            external.setdefault(n.group, set()).update(d for d in n.deps if d not in members)
    upstream = {}
    for n in nodes:
        deps = set(external[n.group]) if n.group in barrier_groups else set(n.deps)
        upstream[n.name] = frozenset(d for d in deps if d in known)
    return upstream


def find_cycles(upstream: Mapping[str, Collection[str]], order: Sequence[str]) -> list[list[str]]:
    """One cycle path per cyclic component, following 'depends on' edges."""
    position = {name: i for i, name in enumerate(order)}
    cycles = []
    for component in _components(upstream, order):
        start = min(component, key=position.__getitem__)
        if len(component) == 1 and start not in upstream.get(start, ()):
            continue
        cycles.append(_path_back(upstream, start, component, position))
    cycles.sort(key=lambda c: position[c[0]])
    return cycles


def _components(graph: Mapping[str, Collection[str]], order: Sequence[str]) -> list[set[str]]:
    # Kosaraju, iterative: finish order on the graph, then sweep the reverse graph.
    finished: list[str] = []
    seen: set[str] = set()
    for root in order:
        if root in seen:
            continue
        seen.add(root)
        stack = [(root, iter(sorted(graph.get(root, ()))))]
        while stack:
            node, children = stack[-1]
            child = next((c for c in children if c not in seen), None)
            if child is None:
                stack.pop()
                finished.append(node)
            else:
                seen.add(child)
                stack.append((child, iter(sorted(graph.get(child, ())))))
    reverse: dict[str, set[str]] = {name: set() for name in order}
    for node, deps in graph.items():
        for dep in deps:
            reverse.setdefault(dep, set()).add(node)
    assigned: set[str] = set()
    components = []
    for root in reversed(finished):
        if root in assigned:
            continue
        component, todo = set(), [root]
        assigned.add(root)
        while todo:
            node = todo.pop()
            component.add(node)
            for nxt in reverse.get(node, ()):
                if nxt not in assigned:
                    assigned.add(nxt)
                    todo.append(nxt)
        components.append(component)
    return components


def _path_back(graph, start: str, component: set[str], position: Mapping[str, int]) -> list[str]:
    # Breadth-first inside the component: the shortest way from start back to start.
    parents: dict[str, str] = {}
    frontier = [start]
    while frontier:
        nxt_frontier = []
        for node in frontier:
            for dep in sorted(graph.get(node, ()), key=position.__getitem__):
                if dep == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(parents[path[-1]])
                    return [start, *reversed(path[:-1]), start]
                if dep in component and dep not in parents:
                    parents[dep] = node
                    nxt_frontier.append(dep)
        frontier = nxt_frontier
    raise AssertionError("a cyclic component always has a path back to its start")
