"""The registry's errors: every one names the field path at fault and a stable code.

`InvalidSpec` carries *all* problems of a spec (its message lists each with its
path); the others reject a command about an unknown, removed or conflicting
cluster or node. They subclass the shared `DomainError` family, so consumers
dead-letter them and the gateway maps them to 4xx in one place.
"""

from __future__ import annotations

from collections.abc import Iterable

from domains.errors import Conflict, DomainError, IllegalTransition, NotFound
from domains.registry.problems import Problem


class InvalidSpec(DomainError):
    code = "invalid_spec"

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = tuple(problems)
        count = len(self.problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(
            f"invalid cluster spec: {count} problem{'s' if count != 1 else ''}:\n{lines}",
            field=self.problems[0].path if self.problems else "",
        )


def cluster_not_found(cluster: str) -> NotFound:
    return NotFound(f"cluster '{cluster}' is not onboarded", field="cluster", code="cluster_not_found")


def cluster_exists(cluster: str) -> Conflict:
    return Conflict(
        f"cluster '{cluster}' is already onboarded with a different spec; "
        "add, remove or change nodes with node commands",
        field="spec.name",
        code="cluster_exists",
    )


def node_exists(cluster: str, node: str) -> Conflict:
    return Conflict(f"node '{node}' already exists in cluster '{cluster}'", field="node.name", code="node_exists")


def node_not_found(cluster: str, node: str) -> NotFound:
    return NotFound(f"node '{node}' is not registered in cluster '{cluster}'", field="node", code="node_not_found")


def node_removed(cluster: str, node: str, action: str) -> IllegalTransition:
    return IllegalTransition(
        f"cannot {action} node '{node}' of cluster '{cluster}': it was removed", field="node", code="node_removed"
    )


def not_cordoned(cluster: str, node: str) -> IllegalTransition:
    return IllegalTransition(
        f"cannot uncordon node '{node}' of cluster '{cluster}': it is not cordoned", field="node", code="not_cordoned"
    )
