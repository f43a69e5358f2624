"""Workflow spec documents: YAML text in, a checked `WorkflowSpec` out (pure, no I/O).

- `validate_workflow_spec(source)` is the dry run: it returns EVERY problem
  at once, each with its path (`tasks[2].depends_on[0]: unknown task 'x'`):
  YAML syntax, schema problems (unknown fields, wrong types, bad values, as
  pydantic reports them) and the graph rules of `checks` (run on the raw
  document, so an unknown field elsewhere does not hide a cycle), sorted by
  path (`tasks[2]` before `tasks[10]`).
- `parse_workflow_spec(text)` returns the spec or raises `InvalidWorkflowSpec`
  carrying that same list.
- `to_job_spec(task)` is the job a task runs; its retries are the workflow's
  (`retries`), so the job itself never retries (`max_retries=0`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import yaml
from pydantic import ValidationError

from domains.scheduling.workflow.checks import graph_problems
from domains.scheduling.workflow.errors import InvalidWorkflowSpec
from schemas.jobs import JobSpec
from schemas.workflows import Problem, TaskSpec, WorkflowSpec


def validate_workflow_spec(source: str | Mapping[str, Any] | WorkflowSpec) -> list[Problem]:
    if isinstance(source, WorkflowSpec):
        source = source.model_dump()
    if isinstance(source, str):
        try:
            source = yaml.safe_load(source)
        except yaml.YAMLError as exc:
            return [Problem(path="", message=f"not valid YAML: {_yaml_message(exc)}")]
    if not isinstance(source, Mapping):
        return [Problem(path="", message=f"a workflow spec is a mapping, got {type(source).__name__}")]
    problems = dict.fromkeys(_schema_problems(source) + graph_problems(source))  # no repeats
    return sorted(problems, key=lambda p: _natural(p.path))


def parse_workflow_spec(text: str) -> WorkflowSpec:
    problems = validate_workflow_spec(text)
    if problems:
        raise InvalidWorkflowSpec(problems)
    return WorkflowSpec.model_validate(yaml.safe_load(text))


def to_job_spec(task: TaskSpec) -> JobSpec:
    fields = {name: getattr(task, name) for name in JobSpec.model_fields}
    return JobSpec.model_validate(fields | {"max_retries": 0})


def _schema_problems(data: Mapping[str, Any]) -> list[Problem]:
    try:
        WorkflowSpec.model_validate(data)
    except ValidationError as exc:
        return [Problem(path=_path(err["loc"]), message=_message(err)) for err in exc.errors()]
    return []


def _natural(path: str) -> list[str | int]:
    # `tasks[2]` before `tasks[10]`; split() alternates text and digits, so items always compare.
    return [int(part) if i % 2 else part for i, part in enumerate(re.split(r"(\d+)", path))]


def _path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part == "[key]":
            path += "(key)"
        else:
            path += f".{part}" if path else part
    return path


def _message(err: Mapping[str, Any]) -> str:
    if err["type"] == "extra_forbidden":
        return "unknown field"
    if err["type"] == "missing":
        return "required field missing"
    message = err["msg"]
    return message.removeprefix("Value error, ")


def _yaml_message(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    return f"{problem} at line {mark.line + 1}, column {mark.column + 1}" if mark else problem
