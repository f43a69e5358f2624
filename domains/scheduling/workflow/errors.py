"""Errors of the workflow aggregate: invalid requests, each naming a field path and a stable code.

An invalid spec lists every problem at once (`problems`, each with its path);
the message joins them so a log line or a 4xx body shows all of them.
"""

from __future__ import annotations

from collections.abc import Sequence

from domains.errors import Conflict, DomainError, IllegalTransition, NotFound
from schemas.workflows import Problem


class InvalidWorkflowSpec(DomainError):
    code = "invalid_workflow_spec"

    def __init__(self, problems: Sequence[Problem]) -> None:
        if not problems:
            raise ValueError("InvalidWorkflowSpec needs at least one problem")
        super().__init__(
            "; ".join(f"{p.path or '<spec>'}: {p.message}" for p in problems),
            field=problems[0].path,
        )
        self.problems = list(problems)


class WorkflowNotFound(NotFound):
    def __init__(self, workflow_id: str, command: str) -> None:
        super().__init__(f"{command}: workflow {workflow_id!r} does not exist", field="workflow_id")


class WorkflowExists(Conflict):
    """A submission reusing a workflow id for a different spec."""

    code = "workflow_exists"


class WrongWorkflow(DomainError):
    """A command routed to another workflow's state: a handler bug, never applied."""

    code = "wrong_workflow"


class UnknownTask(NotFound):
    def __init__(self, workflow_id: str, task: str) -> None:
        super().__init__(f"workflow {workflow_id!r} has no task {task!r}", field="task")


class WorkflowIllegalTransition(IllegalTransition):
    """A command the workflow's or task's status does not allow; names both."""
