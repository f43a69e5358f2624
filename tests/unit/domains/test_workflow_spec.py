"""Workflow spec documents: parsing the YAML fixtures, and every problem reported at once with its path."""

from __future__ import annotations

import pytest

from domains.scheduling.workflow import (
    parse_workflow_spec,
    to_job_spec,
    validate_workflow_spec,
)
from domains.scheduling.workflow.errors import InvalidWorkflowSpec
from schemas.jobs import JobSpec
from tests.factories.workflows import fixture_text, group, takes, task, workflow


def problems_of(source) -> dict[str, str]:
    return {p.path: p.message for p in validate_workflow_spec(source)}


@pytest.mark.parametrize("name", ["serial.yaml", "fan_out_fan_in.yaml", "group_barrier.yaml", "retry.yaml"])
def test_example_specs_parse_without_problems(name):
    spec = parse_workflow_spec(fixture_text(name))
    assert validate_workflow_spec(spec) == []


def test_a_parsed_spec_keeps_dependencies_inputs_groups_and_exit_actions():
    spec = parse_workflow_spec(fixture_text("group_barrier.yaml"))
    assert [t.name for t in spec.tasks] == ["build", "simulator", "learner"]
    assert spec.tasks[1].inputs[0].task == "build" and spec.tasks[2].depends_on == ["build"]
    assert (spec.groups[0].lead, spec.groups[0].barrier) == ("learner", True)
    retry = parse_workflow_spec(fixture_text("retry.yaml")).tasks[0]
    assert retry.exit_actions == {"0-1": "complete", "75,137": "reschedule", "*": "fail"}


def test_reports_every_problem_of_a_broken_spec_at_once_with_its_path():
    assert problems_of(fixture_text("invalid.yaml")) == {
        "priority": "unknown field",
        "tasks": "dependency cycle a -> c -> a",
        "tasks[1].imagee": "unknown field",
        "tasks[2].depends_on[1]": "unknown task 'x'",
        "tasks[2].exit_actions.0": "Input should be 'complete', 'fail' or 'reschedule'",
        "tasks[2].exit_actions.2": "exit code 2 is covered by both '1-3' and '2'",
        "tasks[2].inputs[0].output": "task 'a' has no output 'weights'",
        "tasks[3].name": "duplicate task 'a' (first at tasks[0])",
        "groups[0].lead": "lead task 'b' is not a member of group 'g'",
    }


def test_parsing_a_broken_spec_raises_with_all_problems_and_the_first_path():
    with pytest.raises(InvalidWorkflowSpec) as raised:
        parse_workflow_spec(fixture_text("invalid.yaml"))
    assert len(raised.value.problems) == 9
    assert raised.value.field == raised.value.problems[0].path
    assert "tasks[2].depends_on[1]: unknown task 'x'" in raised.value.message


def test_reports_a_longer_cycle_as_its_path_and_each_cycle_once():
    spec = {"name": "wf", "tasks": [
        {"name": "a", "image": "i", "depends_on": ["b"]},
        {"name": "b", "image": "i", "depends_on": ["c"]},
        {"name": "c", "image": "i", "depends_on": ["a"]},
        {"name": "d", "image": "i", "depends_on": ["d"]},
    ]}
    assert [p.message for p in validate_workflow_spec(spec)] == [
        "dependency cycle a -> b -> c -> a", "dependency cycle d -> d"]


def test_a_cycle_through_inputs_is_a_cycle():
    spec = workflow(task("a", outputs=["x"], inputs=[takes("b", "y")]),
                    task("b", outputs=["y"], inputs=[takes("a", "x")]))
    assert problems_of(spec) == {"tasks": "dependency cycle a -> b -> a"}


def test_inputs_name_existing_tasks_and_outputs():
    spec = workflow(task("a", outputs=["x", "x"]), task("b", inputs=[takes("a", "z"), takes("q", "x")]))
    assert problems_of(spec) == {
        "tasks[0].outputs[1]": "duplicate output 'x'",
        "tasks[1].inputs[0].output": "task 'a' has no output 'z'",
        "tasks[1].inputs[1].task": "unknown task 'q'",
    }


def test_groups_need_members_a_member_lead_and_no_dependencies_among_barrier_members():
    spec = workflow(
        task("a", group="g"), task("b", "a", group="g"), task("c", group="nope"),
        groups=(group("g", "a"), group("g", "a"), group("empty", "zz")),
    )
    assert problems_of(spec) == {
        "tasks[1].depends_on[0]": "'a' is in the same barrier group 'g'; members start together",
        "tasks[2].group": "unknown group 'nope'",
        "groups[1].name": "duplicate group 'g' (first at groups[0])",
        "groups[2]": "group 'empty' has no member tasks",
        "groups[2].lead": "unknown task 'zz'",
    }


def test_members_of_a_group_without_barrier_may_depend_on_each_other():
    spec = workflow(task("a", group="g"), task("b", "a", group="g"), groups=(group("g", "b", barrier=False),))
    assert validate_workflow_spec(spec) == []


def test_a_cycle_that_only_appears_through_a_barrier_group_is_reported():
    # b waits for a; the group {a, c} starts together, so a also waits for c's dependency b.
    spec = workflow(task("a", group="g"), task("b", "a"), task("c", "b", group="g"),
                    groups=(group("g", "a"),))
    (problem,) = validate_workflow_spec(spec)
    assert problem.path == "groups"
    assert problem.message.endswith("a -> b -> a")


@pytest.mark.parametrize(("key", "message"), [
    ("x", "invalid exit-code expression 'x'"),
    ("5-1", "empty exit-code range '5-1': 5 > 1"),
    ("1,,2", "invalid exit-code expression ''"),
])
def test_malformed_exit_code_keys_are_reported_under_the_key(key, message):
    spec = workflow(task("a", exit_actions={key: "fail"}))
    assert problems_of(spec)[f"tasks[0].exit_actions.{key}"].startswith(message)


def test_the_jobs_own_max_retries_is_not_used_by_workflow_tasks():
    spec = workflow(task("a", max_retries=2))
    assert problems_of(spec) == {"tasks[0].max_retries": "a workflow task retries with 'retries', not 'max_retries'"}


def test_yaml_syntax_errors_and_non_mapping_documents_are_problems():
    assert problems_of("tasks: [a")[""].startswith("not valid YAML: expected ',' or ']'")
    assert problems_of("- a\n- b\n") == {"": "a workflow spec is a mapping, got list"}


def test_a_spec_needs_a_name_and_at_least_one_task():
    assert problems_of("timeout_s: 0\ntasks: []\n") == {
        "name": "required field missing",
        "tasks": "List should have at least 1 item after validation, not 0",
        "timeout_s": "Input should be greater than 0",
    }


def test_problems_are_listed_in_path_order_with_numeric_indices():
    spec = {"name": "wf", "tasks": [{"name": f"t{i}", "image": "i", **({"bad": 1} if i in (2, 10) else {})}
                                    for i in range(11)]}
    assert [p.path for p in validate_workflow_spec(spec)] == ["tasks[2].bad", "tasks[10].bad"]


def test_a_task_converts_to_the_job_it_runs_without_job_level_retries():
    t = task("train", "prep", gpus=8, gpu_model="H100", retries=3, outputs=["model"])
    job = to_job_spec(t)
    assert isinstance(job, JobSpec) and not isinstance(job, type(t))
    assert (job.name, job.gpus, job.gpu_model, job.max_retries) == ("train", 8, "H100", 0)
