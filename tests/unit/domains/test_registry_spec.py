"""Cluster spec documents: parsing, dry-run validation with every problem at once, summaries."""

from __future__ import annotations

import pytest

from domains.registry import (
    InvalidSpec,
    Problem,
    dry_run,
    parse_cluster_spec,
    validate_cluster_spec,
)
from tests.factories.registry import fixture_text, spec_dict


def paths(problems: list[Problem]) -> list[str]:
    return [p.path for p in problems]


def test_yaml_and_json_examples_describe_the_same_cluster():
    from_yaml = parse_cluster_spec(fixture_text("h100-two-pools.yaml"))
    from_json = parse_cluster_spec(fixture_text("h100-two-pools.json"), format="json")
    assert from_yaml == from_json
    assert [n.name for n in from_yaml.nodes] == ["gpu-01", "gpu-02", "gpu-03", "gpu-04"]
    assert {(n.rack, n.nvlink_domain) for n in from_yaml.nodes} == {("rack-a", "nvl-a"), ("rack-b", "nvl-b")}


def test_dry_run_of_the_example_summarises_nodes_gpus_and_pools():
    result = dry_run(fixture_text("h100-two-pools.yaml"))
    assert result.ok
    summary = result.summary
    assert (summary.nodes, summary.gpus, summary.gpus_by_model) == (4, 32, {"H100": 32})
    assert [(p.name, p.nodes, p.gpus) for p in summary.pools] == [("inference", 1, 8), ("training", 3, 24)]
    assert (summary.racks, summary.nvlink_domains) == (("rack-a", "rack-b"), ("nvl-a", "nvl-b"))


def test_reports_every_problem_of_a_document_at_once_with_paths_and_lines():
    problems = validate_cluster_spec(fixture_text("invalid-many-problems.yaml"))
    # A missing field points at the line of the node that lacks it.
    assert [(p.path, p.line) for p in problems] == [
        ("name", 2), ("backend", 3), ("pools[1].name", 7),
        ("nodes[0].platform", 11), ("nodes[0].gpu_count", 13),
        ("nodes[1].gpu_memory_gb", 15), ("nodes[1].name", 15), ("nodes[1].pool", 16), ("nodes[1].gpus", 19),
        ("nodes[2].gpu_count", 20),
        ("nodes[3].gpu_count", 25),
    ]


def test_problem_messages_say_what_is_wrong():
    messages = {p.path: p.message for p in validate_cluster_spec(fixture_text("invalid-many-problems.yaml"))}
    assert "'training'" in messages["pools[1].name"] and "duplicate" in messages["pools[1].name"]
    assert "'research' is not declared" in messages["nodes[1].pool"]
    assert "'a100-pcie' is not a platform of pool 'training'" in messages["nodes[0].platform"]
    assert "unknown field" in messages["nodes[1].gpus"] and "gpu_count" in messages["nodes[1].gpus"]
    assert ">= 0" in messages["nodes[0].gpu_count"]
    assert "valid integer" in messages["nodes[3].gpu_count"]


def test_parse_raises_invalid_spec_listing_every_problem():
    with pytest.raises(InvalidSpec) as raised:
        parse_cluster_spec(fixture_text("invalid-many-problems.yaml"))
    assert len(raised.value.problems) == 11
    assert raised.value.field == "name"
    for problem in raised.value.problems:
        assert problem.path in raised.value.message


@pytest.mark.parametrize("text, fmt, line", [
    ("name: c1\nnodes: [\n  {name: n1\n", None, 4),
    ('{"name": "c1",\n "nodes": [}\n', None, 2),
    ("name: c1\n", "json", 1),
])
def test_reports_a_syntax_error_with_its_line(text, fmt, line):
    [problem] = validate_cluster_spec(text, format=fmt)
    assert (problem.path, problem.line) == ("", line)
    assert problem.message.startswith("invalid JSON" if fmt == "json" or text.startswith("{") else "invalid YAML")


@pytest.mark.parametrize("text", ["", "- a\n- b\n", "just a string\n"])
def test_rejects_a_document_that_is_not_a_mapping(text):
    [problem] = validate_cluster_spec(text)
    assert problem.path == "" and "expected a mapping" in problem.message


def test_reports_a_repeated_key_since_the_parser_would_keep_only_the_last():
    problems = validate_cluster_spec("name: c1\nregion: eu\nregion: us\n")
    assert [(p.path, p.line) for p in problems] == [("region", 3)]


def test_an_unknown_field_suggests_the_closest_known_one():
    data = spec_dict()
    data["nodes"][0]["gpu_cuont"] = 8
    [problem] = validate_cluster_spec(data)
    assert problem.path == "nodes[0].gpu_cuont" and "did you mean 'gpu_count'?" in problem.message


def test_types_are_strict_a_quoted_number_or_a_boolean_is_not_a_count():
    data = spec_dict()
    data["nodes"][0]["gpu_count"] = True
    data["nodes"][1]["gpu_memory_gb"] = "80"
    assert paths(validate_cluster_spec(data)) == ["nodes[0].gpu_count", "nodes[1].gpu_memory_gb"]


def test_gpu_inventory_must_be_consistent():
    data = spec_dict()
    data["nodes"][0].update(gpu_model=None, gpu_memory_gb=0)  # 8 GPUs of no model, no memory
    data["nodes"][1].update(gpu_count=0)  # a model but no GPUs
    assert paths(validate_cluster_spec(data)) == [
        "nodes[0].gpu_memory_gb", "nodes[0].gpu_model", "nodes[1].gpu_count"]


def test_invalid_names_and_label_keys_are_reported_with_their_path():
    data = spec_dict(labels={"bad key": "x"})
    data["nodes"][1]["name"] = "n 2"
    data["pools"][0]["platforms"] = ["h100-sxm", "h100.sxm"]
    assert paths(validate_cluster_spec(data)) == ['labels["bad key"]', "nodes[1].name", "pools[0].platforms[1]"]


def test_a_spec_without_pools_has_the_default_pool():
    spec = parse_cluster_spec("name: c1\nnodes:\n  - {name: cpu-1, cpu: 64}\n")
    assert [p.name for p in spec.pools] == ["default"] and spec.nodes[0].pool == "default"


def test_a_node_may_omit_its_platform_but_not_name_one_its_pool_lacks():
    data = spec_dict()
    data["nodes"][0]["platform"] = None
    data["nodes"][1]["platform"] = "a100"
    assert paths(validate_cluster_spec(data)) == ["nodes[1].platform"]


def test_a_platform_is_checked_only_against_a_declared_pool():
    data = spec_dict()
    data["nodes"][0].update(pool="nope", platform="whatever")
    assert paths(validate_cluster_spec(data)) == ["nodes[0].pool"]


def test_problems_are_reported_in_natural_order_without_lines_for_loaded_data():
    data = spec_dict(nodes=[{"name": f"n{i}", "pool": "train", "gpu_count": -1} for i in range(12)])
    found = validate_cluster_spec(data)
    assert paths(found) == [f"nodes[{i}].gpu_count" for i in range(12)]
    assert all(p.line is None for p in found)


def test_dry_run_of_an_invalid_spec_has_problems_and_no_summary():
    result = dry_run(fixture_text("invalid-many-problems.yaml"))
    assert not result.ok and result.summary is None and len(result.problems) == 11


def test_validation_is_deterministic():
    text = fixture_text("invalid-many-problems.yaml")
    assert validate_cluster_spec(text) == validate_cluster_spec(text)
