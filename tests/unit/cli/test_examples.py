"""The example specs users start from are valid, and the workflow really fans out and back in."""

from __future__ import annotations

from pathlib import Path

import yaml

from domains.registry.spec import validate_cluster_spec
from domains.scheduling.workflow import parse_workflow_spec, validate_workflow_spec
from gateway.commands.dag import DagTask, stages
from schemas.jobs import JobSpec

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def test_every_example_file_is_checked_here():
    assert sorted(p.name for p in EXAMPLES.iterdir() if p.suffix in (".yaml", ".yml", ".json")) == \
        ["cluster.yaml", "job.yaml", "workflow.yaml"]


def test_the_example_cluster_has_no_problem():
    assert validate_cluster_spec((EXAMPLES / "cluster.yaml").read_text()) == []


def test_the_example_job_is_a_valid_job_spec_running_a_real_command_without_gpus():
    spec = JobSpec.model_validate(yaml.safe_load((EXAMPLES / "job.yaml").read_text()), strict=False)
    assert spec.command and spec.gpus == 0


def test_the_example_workflow_is_valid_and_fans_out_then_in_through_outputs():
    text = (EXAMPLES / "workflow.yaml").read_text()
    assert validate_workflow_spec(text) == []
    spec = parse_workflow_spec(text)
    assert 3 <= len(spec.tasks) <= 4
    tasks = [DagTask(t.name, tuple(t.depends_on) + tuple(i.task for i in t.inputs)) for t in spec.tasks]
    layers = [[t.name for t in layer] for layer in stages(tasks)]
    assert [len(layer) for layer in layers] == [1, 2, 1], layers
    sink = next(t for t in spec.tasks if t.name == layers[-1][0])
    assert {i.task for i in sink.inputs} == set(layers[1])  # the fan-in consumes upstream outputs
    assert all(t.command for t in spec.tasks)
