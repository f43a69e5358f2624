"""The CPU engine's process: `python -m adapters.agent.cpu_server --model M --host H --port P [args]`.

Resolves M (adapters/agent/cpu.py), loads it, then listens: a chat model as
llama-cpp-python's OpenAI server (`llama_cpp.server`: /v1/chat/completions,
/v1/completions, /v1/models; `args` are its own options, e.g. `--n_ctx 2048`),
MiniLM as the embeddings server (cpu_embed.py). Both behind `Metered`
(meter.py: /health, /metrics with vLLM's names). The model answers under the
deployment's name M (llama-cpp's `model_alias`). A model that cannot load
exits 1 before listening: the agent sees the exit and reports it.
"""

from __future__ import annotations

import argparse
import sys

import uvicorn

from adapters.agent.cpu import resolve
from adapters.agent.engine import EngineError
from adapters.agent.meter import Metered


def chat_app(model: str, path, host: str, port: int, extra: list[str]):
    from llama_cpp.server.app import create_app
    from llama_cpp.server.cli import add_args_from_model, parse_model_from_args
    from llama_cpp.server.settings import ModelSettings, ServerSettings, Settings

    parser = argparse.ArgumentParser(prog="cpu_server")
    add_args_from_model(parser, Settings)
    # llama.cpp's load log is thousands of lines per start: off unless engine_args say `--verbose true`
    args = parser.parse_args(["--model", str(path), "--model_alias", model, "--host", host, "--port", str(port),
                              "--verbose", "false", *extra])
    return create_app(server_settings=parse_model_from_args(ServerSettings, args),
                      model_settings=[parse_model_from_args(ModelSettings, args)])


def embed_app(model: str, path):
    from adapters.agent.cpu_embed import create_app
    from adapters.agent.minilm import MiniLM

    return create_app(model, MiniLM(path))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="cpu_server", description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args, extra = parser.parse_known_args(argv)
    try:
        kind, path = resolve(args.model)
        app = chat_app(args.model, path, args.host, args.port, extra) if kind == "chat" else embed_app(args.model, path)
    except EngineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    uvicorn.run(Metered(app, args.model), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
