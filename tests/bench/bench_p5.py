"""P5: the inference proxy's overhead vs calling the upstream directly, same upstream, same run.

Run:  .venv/bin/python -m tests.bench.bench_p5            (5 s per point)
      .venv/bin/python -m tests.bench.bench_p5 --seconds 2 --concurrency 1 16 64 [--uvloop] [--limits] [--stream]

Starts its own nats-server, the control plane (to create an API key without
limits), one stand-in engine process (tests/integration/test_proxy_standin.py:
plain asyncio HTTP, a fixed chat completion per request) registered in the
discovery bucket, and `tessera proxy` as its own process. A minimal keep-alive
HTTP/1.1 load generator (one connection per concurrent client, raw asyncio:
httpx would be the bottleneck) sends the same non-streaming chat completion
to the stand-in directly, then through the proxy, at each concurrency.
Prints per point: requests/s, p50 and p99 latency of both, and the added
p50/p99 (TARGETS.md P5: added p50 <= 1 ms, p99 <= 5 ms at concurrency 64).
Also the proxy process's CPU per request (psutil; steadier than latency on a
shared machine). `--litellm BIN` also starts LiteLLM's proxy (`litellm` from
a throwaway venv; it is not a dependency) on the same stand-in, with a master
key, and measures it the same way: TARGETS.md's ">= 5x LiteLLM" on this machine.
The machine is shared and noisy: compare within one run. Not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[2]
BODY = orjson.dumps({"model": "bench", "max_tokens": 8, "messages": [{"role": "user", "content": "hello there"}]})


STREAM_BODY = orjson.dumps({**orjson.loads(BODY), "stream": True})


def request_bytes(host: str, path: str, key: str | None, body: bytes = BODY) -> bytes:
    auth = f"authorization: Bearer {key}\r\n" if key else ""
    return (f"POST {path} HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\n{auth}"
            f"content-length: {len(body)}\r\n\r\n").encode() + body


async def client(port: int, payload: bytes, until: float, latencies: list[float], errors: list[int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < until:
            t = time.perf_counter()
            writer.write(payload)
            head = await reader.readuntil(b"\r\n\r\n")
            length = None
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            if length is None:  # chunked (a stream): to the last chunk
                await reader.readuntil(b"\r\n0\r\n\r\n")
            else:
                await reader.readexactly(length)
            latencies.append(time.perf_counter() - t)
            if not head.startswith(b"HTTP/1.1 200"):
                errors.append(1)
    finally:
        writer.close()


def cpu_s(pid: int) -> float:
    import psutil

    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


async def measure(port: int, payload: bytes, concurrency: int, seconds: float,
                  pid: int) -> tuple[float, float, float, int, float]:
    """(req/s, p50 ms, p99 ms, errors, CPU µs per request of the server process `pid`)."""
    warm: list[float] = []
    await asyncio.gather(*(client(port, payload, time.perf_counter() + 0.5, warm, []) for _ in range(concurrency)))
    latencies: list[float] = []
    errors: list[int] = []
    cpu = cpu_s(pid)
    start = time.perf_counter()
    await asyncio.gather(*(client(port, payload, start + seconds, latencies, errors) for _ in range(concurrency)))
    elapsed = time.perf_counter() - start
    cpu = cpu_s(pid) - cpu
    latencies.sort()
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000
    return len(latencies) / elapsed, pick(0.50), pick(0.99), len(errors), cpu / max(1, len(latencies)) * 1e6


LITELLM_KEY = "sk-bench-p5-0123456789abcdef"


async def start_litellm(binary: str, engine_url: str, home: Path) -> tuple[subprocess.Popen, int]:
    """LiteLLM's proxy routing model "bench" to the stand-in; returns once it answers a completion."""
    from tests.integration.test_proxy_standin import free_port

    config = home / "litellm.yaml"
    config.write_text("model_list:\n  - model_name: bench\n    litellm_params:\n      model: openai/bench\n"
                      f"      api_base: {engine_url}/v1\n      api_key: none\n")
    port = free_port()
    env = {**os.environ, "LITELLM_MASTER_KEY": LITELLM_KEY, "LITELLM_LOG": "ERROR"}
    proc = subprocess.Popen([binary, "--config", str(config), "--port", str(port), "--num_workers", "1"],  # noqa: ASYNC220
                            cwd=home, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    payload = request_bytes(f"127.0.0.1:{port}", "/v1/chat/completions", LITELLM_KEY)
    for _ in range(240):
        await asyncio.sleep(0.5)
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(payload)
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            writer.close()
            if head.startswith(b"HTTP/1.1 200"):
                return proc, port
        except (TimeoutError, OSError, asyncio.IncompleteReadError):
            continue
    proc.kill()
    raise RuntimeError("LiteLLM did not start within 2 minutes")


async def main(args) -> None:
    from bus.connection import Bus, connect
    from bus.discovery import AgentEntry, open_registry
    from bus.server import ServerProcess
    from bus.settings import Settings
    from bus.streams import ensure_streams
    from tests.integration.test_proxy_standin import Stack, StandIn, free_port

    home = Path(tempfile.mkdtemp(prefix="bench-p5-"))
    server = ServerProcess(store_dir=home / "store").start()
    settings = Settings(publish_timeout=5.0)
    nc = await connect(server.url, settings)
    await ensure_streams(nc.jetstream(), settings)
    bus = Bus(nc=nc, js=nc.jetstream(), settings=settings, url=server.url)
    stack = await Stack(bus).start()
    engine = StandIn("bench").start()
    proxy_port = free_port()
    proxy = litellm = None
    try:
        key, _ = await stack.api_key(**({"rpm": 1_000_000, "tpm": 1_000_000_000} if args.limits else {}))
        registry = await open_registry(bus.js)
        entry = AgentEntry(tenant="acme", deployment="bench", model="bench", replica=0, generation=1,
                           url=engine.url, engine="vllm", max_concurrent=1024)

        async def beat() -> None:
            while True:
                await registry.put(entry.model_copy(update={"updated": datetime.now(UTC)}))
                await asyncio.sleep(2)

        beating = asyncio.create_task(beat())
        env = {**os.environ, "TESSERA_NATS_URL": server.url, "TESSERA_HOME": str(home), "PYTHONPATH": str(ROOT)}
        boot = ("import asyncio, uvloop; asyncio.set_event_loop_policy(uvloop.EventLoopPolicy()); "
                if args.uvloop else "")
        command = [sys.executable, "-c", boot + "from gateway.cli import main; main()", "proxy", "--port",
                   str(proxy_port)]
        proxy = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE)  # noqa: ASYNC220
        line = await asyncio.to_thread(proxy.stdout.readline)
        assert b"inference proxy" in line, line
        await asyncio.sleep(0.5)  # let the identity model take the key
        if args.litellm:
            litellm, litellm_port = await start_litellm(args.litellm, engine.url, home)
            via_litellm = request_bytes(f"127.0.0.1:{litellm_port}", "/v1/chat/completions", LITELLM_KEY,
                                        STREAM_BODY if args.stream else BODY)
        body = STREAM_BODY if args.stream else BODY
        direct = request_bytes(f"127.0.0.1:{engine.port}", "/v1/chat/completions", None, body)
        proxied = request_bytes(f"127.0.0.1:{proxy_port}", "/v1/chat/completions", key, body)
        print(f"# P5 bench: {os.cpu_count()} cores, {args.seconds:g} s per point, "
              f"{'streamed (8 chunks)' if args.stream else 'non-streaming'} chat, "
              f"stand-in upstream, proxy on {'uvloop' if args.uvloop else 'asyncio'}, "
              f"key {'with rpm/tpm' if args.limits else 'unlimited'}; {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
        for c in args.concurrency:
            d_rps, d50, d99, d_err, d_cpu = await measure(engine.port, direct, c, args.seconds, engine.proc.pid)
            p_rps, p50, p99, p_err, p_cpu = await measure(proxy_port, proxied, c, args.seconds, proxy.pid)
            print(f"p5.c{c}.direct      {d_rps:9.0f} req/s  p50 {d50:7.2f} ms  p99 {d99:7.2f} ms  errors {d_err}"
                  f"  engine CPU {d_cpu:6.0f} us/req")
            print(f"p5.c{c}.proxy       {p_rps:9.0f} req/s  p50 {p50:7.2f} ms  p99 {p99:7.2f} ms  errors {p_err}"
                  f"  proxy CPU {p_cpu:6.0f} us/req")
            if litellm is not None:
                l_rps, l50, l99, l_err, l_cpu = await measure(litellm_port, via_litellm, c, args.seconds, litellm.pid)
                print(f"p5.c{c}.litellm     {l_rps:9.0f} req/s  p50 {l50:7.2f} ms  p99 {l99:7.2f} ms  errors {l_err}"
                      f"  proxy CPU {l_cpu:6.0f} us/req  (tessera: {p_rps / l_rps:4.1f}x its throughput)")
            print(f"p5.c{c}.added       p50 {p50 - d50:+7.2f} ms  p99 {p99 - d99:+7.2f} ms  "
                  f"throughput {p_rps / d_rps:5.2f}x of direct  (target: +1 ms p50, +5 ms p99)")
        beating.cancel()
    finally:
        for proc in (proxy, litellm):
            if proc is not None:
                proc.terminate()
                proc.wait(15)
        engine.stop()
        await stack.stop()
        await nc.close()
        server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--uvloop", action="store_true", help="run the proxy process on uvloop")
    parser.add_argument("--litellm", metavar="BIN", help="also measure LiteLLM's proxy (path to its `litellm`)")
    parser.add_argument("--stream", action="store_true", help="stream the completions (SSE, 8 content chunks)")
    parser.add_argument("--limits", action="store_true",
                        help="give the key (never reached) rpm/tpm limits: every request reserves and settles in KV")
    asyncio.run(main(parser.parse_args()))
