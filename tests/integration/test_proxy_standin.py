"""A stand-in inference engine (a real HTTP server process speaking the OpenAI API) and the proxy tests' stack.

The stand-in (`python -m tests.integration.test_proxy_standin --port P --name N`)
is plain asyncio HTTP/1.1 with keep-alive, fast enough to be the "fast
upstream" of bench_p5. It answers deterministically, so tests know the exact
token counts the proxy must meter:
- prompt_tokens = the number of whitespace-separated words in every message
  content / prompt / input string; completion_tokens = `max_tokens` (default 5);
- chat/completions: content "w0 w1 ...", one word per completion token;
  stream: one chunk per token (then a usage-only chunk when
  `stream_options.include_usage`), then `data: [DONE]`; a body field
  `standin_delay_ms` sleeps that long before each chunk (non-streaming: before
  the answer, and a client gone by then counts as cancelled);
- embeddings: one 4-float vector per input, usage {prompt_tokens, total_tokens};
- model "broken" answers 500; GET /stats -> {"name", "requests", "cancelled"}
  (cancelled = requests whose client went away before the end).

`Stack` (used by the other test_proxy_* modules): a real nats-server, the real
control plane (keys and rate cards are real commands), stand-ins registered in
the real discovery bucket, and any number of real ProxyRuntimes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[2]


# --- the stand-in server -------------------------------------------------------------------------

class Engine:
    def __init__(self, name: str) -> None:
        self.name = name
        self.requests = 0
        self.cancelled = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
                body = await reader.readexactly(int(headers.get("content-length", "0") or 0))
                if not await self.route(method, path, body, writer, reader):
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    async def route(self, method: str, path: str, raw: bytes, writer, reader=None) -> bool:
        if method == "GET" and path == "/stats":
            return await _json(writer, 200, {"name": self.name, "requests": self.requests, "cancelled": self.cancelled})
        if method == "GET" and path in ("/health", "/v1/models"):
            return await _json(writer, 200, {"object": "list", "data": []})
        self.requests += 1
        body = orjson.loads(raw or b"{}")
        if body.get("model") == "broken":
            return await _json(writer, 500, {"error": {"message": "boom", "type": "server_error"}})
        kind = {"/v1/chat/completions": "chat", "/v1/completions": "text", "/v1/embeddings": "embed"}.get(path)
        if kind is None:
            return await _json(writer, 404, {"error": {"message": f"no {path}", "type": "invalid_request_error"}})
        prompt = _words(body.get("messages") if kind == "chat" else body.get("prompt" if kind == "text" else "input"))
        if kind == "embed":
            inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
            data = [{"object": "embedding", "index": n, "embedding": [0.1, 0.2, 0.3, 0.4]} for n in range(len(inputs))]
            return await _json(writer, 200, {"object": "list", "model": body["model"], "data": data,
                                             "usage": {"prompt_tokens": prompt, "total_tokens": prompt}})
        n = body.get("max_tokens") or 5
        usage = {"prompt_tokens": prompt, "completion_tokens": n, "total_tokens": prompt + n}
        if not body.get("stream"):
            if body.get("standin_delay_ms") and reader is not None:  # a slow answer; a gone client is counted
                await asyncio.sleep(body["standin_delay_ms"] / 1000)
                if reader.at_eof():
                    self.cancelled += 1
                    return False
            text = " ".join(f"w{i}" for i in range(n))
            choice = ({"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "length"}
                      if kind == "chat" else {"index": 0, "text": text, "finish_reason": "length"})
            return await _json(writer, 200, {"id": f"cmpl-{self.name}", "object": "chat.completion" if kind == "chat"
                                             else "text_completion", "created": 1, "model": body["model"],
                                             "choices": [choice], "usage": usage, "served_by": self.name})
        return await self.stream(writer, body, kind, n, usage)

    async def stream(self, writer, body: dict, kind: str, n: int, usage: dict) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")
        delay = body.get("standin_delay_ms", 0) / 1000
        try:
            for i in range(n):
                if delay:
                    await asyncio.sleep(delay)
                word = f"w{i}" if i == 0 else f" w{i}"
                choice = ({"index": 0, "delta": {"content": word}, "finish_reason": None} if kind == "chat"
                          else {"index": 0, "text": word, "finish_reason": None})
                _chunk(writer, {"id": "s", "object": "chunk", "model": body["model"], "choices": [choice]})
                await writer.drain()
            if (body.get("stream_options") or {}).get("include_usage"):
                _chunk(writer, {"id": "s", "object": "chunk", "model": body["model"], "choices": [], "usage": usage})
            writer.write(_frame(b"data: [DONE]\n\n") + b"0\r\n\r\n")
            await writer.drain()
        except (ConnectionError, OSError):
            self.cancelled += 1
            return False
        return True


def _chunk(writer, obj: dict) -> None:
    writer.write(_frame(b"data: " + orjson.dumps(obj) + b"\n\n"))
    if writer.transport.is_closing():
        raise ConnectionResetError("client gone")


def _frame(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


async def _json(writer, status: int, obj) -> bool:
    data = orjson.dumps(obj)
    writer.write(b"HTTP/1.1 %d X\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s"
                 % (status, len(data), data))
    await writer.drain()
    return True


def _words(value) -> int:
    if value is None:
        return 0
    if isinstance(value, str):
        return len(value.split())
    if isinstance(value, list):
        return sum(_words(v.get("content") if isinstance(v, dict) else v) for v in value)
    return 0


async def _serve(port: int, name: str) -> None:
    engine = Engine(name)
    server = await asyncio.start_server(engine.handle, "127.0.0.1", port, backlog=4096)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with server:
        print("ready", flush=True)
        await stop.wait()


# --- test helpers --------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class StandIn:
    """One stand-in process on a free port; `kill()` ends it abruptly (SIGKILL)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> StandIn:
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.integration.test_proxy_standin", "--port",
                                      str(self.port), "--name", self.name], cwd=ROOT, stdout=subprocess.PIPE,
                                     env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert self.proc.stdout.readline().strip() == b"ready"
        return self

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.kill()


def now() -> datetime:
    return datetime.now(UTC)


class Stack:
    """Control plane + discovery + proxies on one nats-server, for the proxy tests."""

    def __init__(self, bus) -> None:
        self.bus = bus
        self.plane = None
        self.registry = None
        self.proxies: list = []
        self.standins: list[StandIn] = []
        self._beats: list[asyncio.Task] = []

    async def start(self) -> Stack:
        from bus.control import ControlPlane, ControlSettings
        from bus.discovery import open_registry

        self.plane = ControlPlane(self.bus, ControlSettings(drain_timeout=2.0))
        await self.plane.start()
        self.registry = await open_registry(self.bus.js)
        return self

    async def command(self, tenant: str, cmd) -> None:
        from bus.commands import send
        from bus.publish import Publisher
        from schemas import Envelope

        env = Envelope.for_command(cmd, tenant=tenant, actor="user:acme/admin", source="/tests/proxy", time=now())
        await send(Publisher(self.bus.nc, stream="CMD"), env)

    async def api_key(self, tenant: str = "acme", **limits) -> tuple[str, str]:
        """A new key through the control plane, returned once every proxy authenticates it."""
        from gateway.tokens import new_api_key
        from schemas import identity as i
        from tests.factories.control import eventually

        key, key_id, key_hash = new_api_key()
        await self.command(tenant, i.CreateApiKey(key_id=key_id, name="test", key_hash=key_hash,
                                                  expires_at=now() + timedelta(days=1), **limits))
        for p in self.proxies:
            await eventually(lambda p=p: p.proxy.identity.authenticate_key(key, now()))
        return key, key_id

    async def rate_card(self, tokens_1k: dict[str, str]) -> None:
        from schemas.metering import PublishRateCard
        from tests.factories.control import eventually

        await self.command("_platform", PublishRateCard(version=1, effective_from=now() - timedelta(hours=1),
                                                        tokens_1k=tokens_1k))
        for p in self.proxies:
            await eventually(lambda p=p: p.proxy.prices.cards)

    async def proxy(self, *, limits_clock=None, **settings):
        from gateway.proxy.app import ProxyRuntime
        from gateway.proxy.settings import ProxySettings

        runtime = ProxyRuntime(self.bus, ProxySettings(**settings), limits_clock=limits_clock)
        await runtime.start()
        await runtime.serve("127.0.0.1", 0)
        self.proxies.append(runtime)
        return runtime

    async def replica(self, model: str, *, tenant: str = "acme", name: str | None = None, url: str | None = None,
                      replica: int | None = None, running: int = 0, max_concurrent: int = 8) -> StandIn | None:
        """A stand-in (or just `url`, e.g. a dead port) registered for `model`, heartbeating every 2 s."""
        from bus.discovery import AgentEntry
        from tests.factories.control import eventually

        standin = None
        if url is None:
            standin = StandIn(name or f"r{len(self.standins)}").start()
            self.standins.append(standin)
            url = standin.url
        index = replica if replica is not None else len(self._beats)
        entry = AgentEntry(tenant=tenant, deployment=f"dep-{model.replace('/', '-')}", model=model, replica=index,
                           generation=1, url=url, engine="vllm", running=running, max_concurrent=max_concurrent)

        async def beat() -> None:
            while True:
                await self.registry.put(entry.model_copy(update={"updated": now()}))
                await asyncio.sleep(2)

        self._beats.append(asyncio.create_task(beat()))
        for p in self.proxies:
            await eventually(lambda p=p: any(r.key == entry.key for r in p.proxy.replicas._by_key.values()))
        return standin

    async def stop(self) -> None:
        for task in self._beats:
            task.cancel()
        for p in self.proxies:
            await p.stop()
        for s in self.standins:
            s.stop()
        if self.plane is not None:
            await self.plane.stop()


async def usage_records(nc, count: int, timeout: float = 10.0) -> list:
    """The first `count` inference usage records on USAGE (waits for them), with their Nats-Msg-Id."""
    from bus.read import replay
    from schemas import decode

    deadline = time.monotonic() + timeout
    while True:
        found: list = []
        await replay(nc, "USAGE", found.append, subject="usage.*.inference")
        found = [(m.msg_id, decode(m.data)) for m in found]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.1)


async def test_the_standin_counts_tokens_deterministically():
    import httpx

    s = StandIn("probe").start()
    try:
        async with httpx.AsyncClient(base_url=s.url) as c:
            r = (await c.post("/v1/chat/completions", json={"model": "m", "max_tokens": 3,
                                                             "messages": [{"role": "user", "content": "a b c d"}]}))
            assert r.json()["usage"] == {"prompt_tokens": 4, "completion_tokens": 3, "total_tokens": 7}
            assert r.json()["choices"][0]["message"]["content"] == "w0 w1 w2"
    finally:
        s.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--name", default="standin")
    args = parser.parse_args()
    asyncio.run(_serve(args.port, args.name))
