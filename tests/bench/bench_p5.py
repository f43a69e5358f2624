"""P5: the inference proxy's overhead vs calling the upstream directly, same upstream, same run.

Run:  .venv/bin/python -m tests.bench.bench_p5            (5 s per point)
      .venv/bin/python -m tests.bench.bench_p5 --seconds 2 --concurrency 1 16 64

Starts its own nats-server, the control plane (to create an API key without
limits), one stand-in engine process (tests/integration/test_proxy_standin.py:
plain asyncio HTTP, a fixed chat completion per request) registered in the
discovery bucket, and `tessera proxy` as its own process. A minimal keep-alive
HTTP/1.1 load generator (one connection per concurrent client, raw asyncio:
httpx would be the bottleneck) sends the same non-streaming chat completion
to the stand-in directly, then through the proxy, at each concurrency.
Prints per point: requests/s, p50 and p99 latency of both, and the added
p50/p99 (TARGETS.md P5: added p50 <= 1 ms, p99 <= 5 ms at concurrency 64).
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


def request_bytes(host: str, path: str, key: str | None) -> bytes:
    auth = f"authorization: Bearer {key}\r\n" if key else ""
    return (f"POST {path} HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\n{auth}"
            f"content-length: {len(BODY)}\r\n\r\n").encode() + BODY


async def client(port: int, payload: bytes, until: float, latencies: list[float], errors: list[int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < until:
            t = time.perf_counter()
            writer.write(payload)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - t)
            if not head.startswith(b"HTTP/1.1 200"):
                errors.append(1)
    finally:
        writer.close()


async def measure(port: int, payload: bytes, concurrency: int, seconds: float) -> tuple[float, float, float, int]:
    warm: list[float] = []
    await asyncio.gather(*(client(port, payload, time.perf_counter() + 0.5, warm, []) for _ in range(concurrency)))
    latencies: list[float] = []
    errors: list[int] = []
    start = time.perf_counter()
    await asyncio.gather(*(client(port, payload, start + seconds, latencies, errors) for _ in range(concurrency)))
    elapsed = time.perf_counter() - start
    latencies.sort()
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000
    return len(latencies) / elapsed, pick(0.50), pick(0.99), len(errors)


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
    proxy = None
    try:
        key, _ = await stack.api_key()
        registry = await open_registry(bus.js)
        entry = AgentEntry(tenant="acme", deployment="bench", model="bench", replica=0, generation=1,
                           url=engine.url, engine="vllm", max_concurrent=1024)

        async def beat() -> None:
            while True:
                await registry.put(entry.model_copy(update={"updated": datetime.now(UTC)}))
                await asyncio.sleep(2)

        beating = asyncio.create_task(beat())
        env = {**os.environ, "TESSERA_NATS_URL": server.url, "TESSERA_HOME": str(home), "PYTHONPATH": str(ROOT)}
        command = [sys.executable, "-c", "from gateway.cli import main; main()", "proxy", "--port", str(proxy_port)]
        proxy = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE)  # noqa: ASYNC220
        line = await asyncio.to_thread(proxy.stdout.readline)
        assert b"inference proxy" in line, line
        await asyncio.sleep(0.5)  # let the identity model take the key
        direct = request_bytes(f"127.0.0.1:{engine.port}", "/v1/chat/completions", None)
        proxied = request_bytes(f"127.0.0.1:{proxy_port}", "/v1/chat/completions", key)
        print(f"# P5 bench: {os.cpu_count()} cores, {args.seconds:g} s per point, non-streaming chat, "
              f"stand-in upstream; {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
        for c in args.concurrency:
            d_rps, d50, d99, d_err = await measure(engine.port, direct, c, args.seconds)
            p_rps, p50, p99, p_err = await measure(proxy_port, proxied, c, args.seconds)
            print(f"p5.c{c}.direct      {d_rps:9.0f} req/s  p50 {d50:7.2f} ms  p99 {d99:7.2f} ms  errors {d_err}")
            print(f"p5.c{c}.proxy       {p_rps:9.0f} req/s  p50 {p50:7.2f} ms  p99 {p99:7.2f} ms  errors {p_err}")
            print(f"p5.c{c}.added       p50 {p50 - d50:+7.2f} ms  p99 {p99 - d99:+7.2f} ms  "
                  f"throughput {p_rps / d_rps:5.2f}x of direct  (target: +1 ms p50, +5 ms p99)")
        beating.cancel()
    finally:
        if proxy is not None:
            proxy.terminate()
            proxy.wait(15)
        engine.stop()
        await stack.stop()
        await nc.close()
        server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16, 64])
    asyncio.run(main(parser.parse_args()))
