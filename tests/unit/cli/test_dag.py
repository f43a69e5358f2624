"""The workflow DAG as `tessera workflows show` draws it."""

from __future__ import annotations

from rich.console import Console

from gateway.commands.dag import DagTask, render_dag, stages, tasks_of

FAN = {
    "id": "wf1", "name": "fan", "status": "running",
    "tasks": [
        {"name": "prepare", "depends_on": [], "status": "succeeded", "job_id": "j-p", "exit_code": 0},
        {"name": "left", "inputs": [{"task": "prepare", "output": "data"}], "status": "running"},
        {"name": "right", "depends_on": ["prepare"], "status": "failed", "exit_code": 2},
        {"name": "merge", "depends_on": ["left", "right"], "status": "blocked"},
    ],
}


def names(layers):
    return [[t.name for t in layer] for layer in layers]


def test_fan_out_shares_a_stage_and_fan_in_comes_after_all_its_inputs():
    assert names(stages(tasks_of(FAN))) == [["prepare"], ["left", "right"], ["merge"]]


def test_a_task_sits_after_its_longest_path_not_its_nearest_dependency():
    tasks = [DagTask("a"), DagTask("b", ("a",)), DagTask("c", ("b",)), DagTask("d", ("a", "c"))]
    assert names(stages(tasks)) == [["a"], ["b"], ["c"], ["d"]]


def test_consuming_an_upstream_output_counts_as_depending_on_it():
    assert tasks_of(FAN)[1].needs == ("prepare",)


def test_per_task_state_can_come_as_a_mapping_next_to_the_spec():
    workflow = {"spec": {"name": "w", "tasks": [{"name": "a"}, {"name": "b", "depends_on": ["a"]}]},
                "tasks": {"a": {"status": "succeeded"}, "b": {"status": "ready", "job_id": "jb"}}}
    tasks = tasks_of(workflow)
    assert [(t.name, t.status, t.needs, t.job_id) for t in tasks] == \
        [("a", "succeeded", (), None), ("b", "ready", ("a",), "jb")]


def test_a_cycle_or_unknown_dependency_ends_in_a_last_stage_instead_of_hanging():
    tasks = [DagTask("a"), DagTask("x", ("y",)), DagTask("y", ("x",)), DagTask("z", ("nope",))]
    assert names(stages(tasks)) == [["a"], ["x", "y", "z"]]


def test_the_drawing_shows_every_task_with_its_state_and_what_it_needs():
    console = Console(record=True, width=120, color_system=None)
    console.print(render_dag(FAN))
    text = console.export_text()
    assert "fan wf1 running" in text
    for line in ("prepare  succeeded (exit 0)", "left  running  ← prepare", "right  failed (exit 2)",
                 "merge  blocked  ← left, right"):
        assert line in text, text
    assert text.index("stage 1") < text.index("prepare") < text.index("stage 2") < text.index("left") \
        < text.index("stage 3") < text.index("merge")
