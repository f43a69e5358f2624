"""Agent: engine load read from Prometheus text with vLLM's names, and the discovery entry built from it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from adapters.agent.engine import EngineError
from adapters.agent.engines import engine_for
from adapters.agent.metrics import Load, parse_load, render
from adapters.agent.reports import AgentConfig, entry

VLLM_TEXT = """\
# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="meta-llama/Llama-3.1-8B-Instruct"} 3.0
vllm:num_requests_running{engine="1",model_name="meta-llama/Llama-3.1-8B-Instruct"} 2.0
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{engine="0",model_name="meta-llama/Llama-3.1-8B-Instruct"} 7.0
# TYPE vllm:kv_cache_usage_perc gauge
vllm:kv_cache_usage_perc{engine="0",model_name="m"} 0.25
vllm:kv_cache_usage_perc{engine="1",model_name="m"} 0.5
vllm:time_to_first_token_seconds_bucket{le="0.01",model_name="m"} 12.0
vllm:request_success_total{finished_reason="stop",model_name="a b"} 1234 1700000000000
"""


def test_running_and_waiting_are_summed_over_engines_and_kv_cache_is_the_fullest():
    assert parse_load(VLLM_TEXT) == Load(running=5, waiting=7, kv_cache=0.5)


def test_older_vllm_kv_cache_name_is_the_fallback():
    text = 'vllm:num_requests_running{model_name="m"} 1\nvllm:gpu_cache_usage_perc{model_name="m"} 0.75\n'
    assert parse_load(text) == Load(running=1, waiting=0, kv_cache=0.75)


def test_the_newer_kv_cache_name_wins_when_both_are_exported():
    text = "vllm:gpu_cache_usage_perc 0.9\nvllm:kv_cache_usage_perc 0.1\n"
    assert parse_load(text).kv_cache == 0.1


@pytest.mark.parametrize("text", ["", "garbage line\n{}\n", "vllm:num_requests_running NaN\n",
                                  "# only comments\n", "vllm:num_requests_running{model=\"x\"}\n"])
def test_text_without_usable_samples_reads_as_idle(text):
    assert parse_load(text) == Load()


def test_rendered_metrics_read_back_as_the_same_load():
    assert parse_load(render(4, 2, 0.125, "m")) == Load(running=4, waiting=2, kv_cache=0.125)


def test_entry_carries_identity_url_and_load_under_the_discovery_key():
    config = AgentConfig(tenant="acme", deployment="d1", replica=2, generation=5, model="llama", engine="vllm",
                         max_concurrent=8)
    at = datetime(2026, 3, 1, tzinfo=UTC)
    made = entry(config, "http://127.0.0.1:9000", Load(running=3, waiting=1, kv_cache=0.4), at)
    assert made.key == "acme.d1.2.5"
    assert (made.url, made.model, made.engine, made.max_concurrent) == ("http://127.0.0.1:9000", "llama", "vllm", 8)
    assert (made.running, made.waiting, made.kv_cache, made.updated) == (3, 1, 0.4, at)


def test_a_wildcard_bind_registers_a_reachable_url():
    config = AgentConfig(tenant="t", deployment="d", replica=0, generation=1, model="m", engine="cpu", host="0.0.0.0")
    assert config.url(8000) == "http://127.0.0.1:8000"
    assert AgentConfig(**{**config.__dict__, "advertise": "node7.lan"}).url(8000) == "http://node7.lan:8000"


def test_vllm_command_puts_usage_flag_before_the_deployments_engine_args():
    engine = engine_for("vllm", {})
    argv = engine.command("org/model", "127.0.0.1", 9001, ["--tensor-parallel-size", "2"])
    assert argv == ["vllm", "serve", "org/model", "--host", "127.0.0.1", "--port", "9001",
                    "--enable-force-include-usage", "--tensor-parallel-size", "2"]
    standin = engine_for("vllm", {"TESSERA_VLLM_COMMAND": "python -m adapters.agent.standin"})
    assert standin.command("m", "h", 1, [])[:4] == ["python", "-m", "adapters.agent.standin", "serve"]


def test_unknown_engine_and_missing_vllm_are_refused_with_a_reason():
    with pytest.raises(EngineError, match="unknown engine 'tgi'"):
        engine_for("tgi", {})
    with pytest.raises(EngineError, match="not on PATH"):
        engine_for("vllm", {"TESSERA_VLLM_COMMAND": "/nonexistent/vllm"}).check("m", [])
