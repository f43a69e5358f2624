"""Workflows: DAGs of job-like tasks (pure; aggregate `workflow`, id = workflow id).

    spec.py        parse_workflow_spec(text), validate_workflow_spec(source), to_job_spec(task)
    checks.py      the graph rules a spec must satisfy, on the raw document
    graph.py       effective dependency edges (barrier groups) and cycle finding
    exit_codes.py  exit-code expressions and the action an exit code means
    dag.py         Dag: upstream/downstream/group order of a valid spec
    state.py       WorkflowState, TaskState, evolve, fold
    progress.py    what follows from task statuses: ready, blocked, the workflow's end
    reports.py     task started/exited reports and their outcome
    decide.py      decide(state, command, *, now)
    errors.py      the workflow's DomainError subclasses
"""

from domains.scheduling.workflow.decide import decide
from domains.scheduling.workflow.progress import task_job_id
from domains.scheduling.workflow.spec import (
    parse_workflow_spec,
    to_job_spec,
    validate_workflow_spec,
)
from domains.scheduling.workflow.state import TaskState, WorkflowState, evolve, fold

__all__ = [
    "TaskState",
    "WorkflowState",
    "decide",
    "evolve",
    "fold",
    "parse_workflow_spec",
    "task_job_id",
    "to_job_spec",
    "validate_workflow_spec",
]
