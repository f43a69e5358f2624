"""The vLLM engine: `vllm serve <model>` on a loopback port, with usage on every stream.

Command: `vllm serve MODEL --host H --port P --enable-force-include-usage
<engine_args...>` (the deployment's `engine_args` go last, so they can add
`--tensor-parallel-size 2`, `--max-model-len 8192`, `--served-model-name`...).
`--enable-force-include-usage` makes every streamed answer end with a usage
chunk, which the proxy meters. Health is vLLM's `/health` (200 once the model
is loaded); load is its `/metrics` (`vllm:num_requests_running`,
`vllm:num_requests_waiting`, `vllm:kv_cache_usage_perc`, or
`vllm:gpu_cache_usage_perc` before vLLM 0.9).

On a GPU node: install the `vllm` extra into the node's environment
(`scripts/bootstrap vllm`, or use the agent image `agent-vllm`, which has
vLLM, CUDA and `tessera` on PATH). The backend starts the replica job with
`CUDA_VISIBLE_DEVICES` set to the GPUs the allocator placed it on, so vLLM sees
exactly those; a deployment with `gpus: 2` should pass
`--tensor-parallel-size 2` in `engine_args`. Weights come from the Hugging Face
cache (`HF_HOME` in the job's env, or a model path as `model`). Loading a large
model takes minutes: the health wait allows `startup_timeout` (15 min,
`--startup-timeout` to change it).

`executable` replaces `vllm` (e.g. `python -m adapters.agent.standin`, the
GPU-less stand-in the tests use; `TESSERA_VLLM_COMMAND` sets it for `tessera
agent`).
"""

from __future__ import annotations

import shutil

from adapters.agent.engine import EngineError


class VllmEngine:
    name = "vllm"
    health_path = "/health"
    metrics_path = "/metrics"
    startup_timeout = 900.0

    def __init__(self, executable: list[str] | None = None) -> None:
        self.executable = executable or ["vllm"]

    def check(self, model: str, engine_args: list[str]) -> None:
        if shutil.which(self.executable[0]) is None:
            raise EngineError(f"{self.executable[0]!r} is not on PATH: install vLLM on this node "
                              "(`scripts/bootstrap vllm`) or run the agent-vllm image")

    def command(self, model: str, host: str, port: int, engine_args: list[str]) -> list[str]:
        return [*self.executable, "serve", model, "--host", host, "--port", str(port),
                "--enable-force-include-usage", *engine_args]
