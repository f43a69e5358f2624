"""This host as a node, and a local run's directory and environment (no bus)."""

from __future__ import annotations

import pytest

from adapters.local.host import gpu_model_name, host_node, parse_nvidia_smi
from adapters.local.workdir import prepare
from schemas.compute import LaunchJob, ResolvedInput
from schemas.jobs import JobSpec, Placement


@pytest.mark.parametrize("raw, model", [
    ("NVIDIA H100 80GB HBM3", "H100"),
    ("NVIDIA A100-SXM4-80GB", "A100"),
    ("NVIDIA GeForce RTX 4090", "RTX 4090"),
    ("Tesla T4", "T4"),
    ("NVIDIA L40S", "L40S"),
])
def test_gpu_model_names_match_what_job_specs_ask_for(raw, model):
    assert gpu_model_name(raw) == model


def test_nvidia_smi_output_gives_the_first_models_count_and_smallest_memory():
    out = "NVIDIA H100 80GB HBM3, 81559 MiB\nNVIDIA H100 80GB HBM3, 81559 MiB\nNVIDIA T400, 2048 MiB\n"
    assert parse_nvidia_smi(out) == ("H100", 2, 79)
    assert parse_nvidia_smi("") == (None, 0, 0)
    assert parse_nvidia_smi("No devices were found\n") == (None, 0, 0)


def test_a_gpu_less_host_is_a_cpu_node_with_its_real_size():
    node = host_node("box", gpus=(None, 0, 0))
    assert (node.name, node.gpu_count, node.gpu_model, node.nvlink_domain) == ("box", 0, None, None)
    assert node.cpu >= 1 and node.memory_gb > 0 and node.labels == {"tessera.dev/backend": "local"}
    gpu = host_node("box", gpus=("H100", 2, 79))
    assert (gpu.gpu_model, gpu.gpu_count, gpu.gpu_memory_gb, gpu.nvlink_domain) == ("H100", 2, 79, "box-gpus")


def test_the_workdir_has_inputs_copied_from_the_producing_run_and_declared_outputs(tmp_path, monkeypatch):
    monkeypatch.setenv("TESSERA_TOKEN", "secret")
    produced = tmp_path / "work/acme/up/2/outputs/model"
    produced.mkdir(parents=True)
    (produced / "w.txt").write_text("42")
    order = LaunchJob(tenant="acme", job_id="down", attempt=1, workflow_id="wf", task="eval",
                      spec=JobSpec(name="eval", image="i", command=["true"], env={"MODE": "fast"}),
                      placements=[Placement(cluster="local", node="box", gpu_indices=[1, 0])],
                      inputs=[ResolvedInput(task="train", output="model", job_id="up", attempt=2),
                              ResolvedInput(task="sim", output="data", job_id="elsewhere")],
                      outputs=["report-card"])
    wd = prepare(tmp_path, "acme", order, [0, 1])
    assert wd.path == tmp_path / "work/acme/down/1"
    assert (wd.path / "inputs/train/model/w.txt").read_text() == "42"
    assert (wd.path / "outputs/report-card").is_dir() and (wd.path / "inputs/sim/data").is_dir()
    assert wd.env["TESSERA_INPUT_TRAIN_MODEL"] == str(wd.path / "inputs/train/model")
    assert wd.env["TESSERA_OUTPUT_REPORT_CARD"] == str(wd.path / "outputs/report-card")
    assert (wd.env["MODE"], wd.env["TESSERA_TASK"], wd.env["CUDA_VISIBLE_DEVICES"]) == ("fast", "eval", "0,1")
    assert "TESSERA_TOKEN" not in wd.env
    assert wd.notes == [f"input sim/data (job elsewhere) is not on this host: {wd.path / 'inputs/sim/data'} is empty"]
