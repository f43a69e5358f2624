"""The engines `tessera agent --engine` knows, by name, built from the environment at the composition root.

    vllm   adapters/agent/vllm.py   `vllm serve` (TESSERA_VLLM_COMMAND replaces `vllm`, e.g. the stand-in)
    cpu    adapters/agent/cpu.py    llama-cpp-python's server (GGUF chat) or the MiniLM embeddings server
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping

from adapters.agent.engine import Engine, EngineError

NAMES = ("vllm", "cpu")


def engine_for(name: str, environ: Mapping[str, str]) -> Engine:
    if name == "vllm":
        from adapters.agent.vllm import VllmEngine
        command = shlex.split(environ.get("TESSERA_VLLM_COMMAND", ""))
        return VllmEngine(command or None)
    if name == "cpu":
        from adapters.agent.cpu import CpuEngine
        return CpuEngine()
    raise EngineError(f"unknown engine {name!r}: use one of {', '.join(NAMES)}")
