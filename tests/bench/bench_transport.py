"""Proxy -> agent transport: direct HTTP/1.1 (gateway/proxy/http1.py) vs NATS request/reply, same run.

Run:  .venv/bin/python -m tests.bench.bench_transport            (3 s per point)
      .venv/bin/python -m tests.bench.bench_transport --quick    (1 s per point)
      .venv/bin/python -m tests.bench.bench_transport --seconds 2 --concurrency 1 16 64

Issue 5 item 4: "NATS request/reply (the seeds' HRPC) or direct HTTP — measure
both and choose". Starts a nats-server (bus.server.ServerProcess, temp dir) and
two upstream processes, each plain asyncio Python with a fixed answer:
- an HTTP/1.1 keep-alive server: POST /chat -> a ~600 B chat completion
  (content-length), POST /stream -> 8 SSE chunks, chunked transfer encoding;
- a NATS responder (`nc.subscribe` with a queue group; `msg.respond`):
  subject bench.chat -> the same ~600 B answer; bench.stream -> the same 8
  chunks as 8 messages to the request's reply inbox, then an empty message
  (end of stream), read here from one wildcard inbox subscription.
This process is the proxy side: the ~300 B request goes through
gateway.proxy.http1.Client (what the proxy uses) or `nc.request` / publish
with a reply inbox. At each concurrency (that many client tasks, each one
request at a time) it prints requests/s, p50 and p99 round trip (to the last
chunk for streams), and CPU µs per request of this (proxy) process, of the
upstream process and, for NATS, of nats-server (the extra hop). The machine
is shared and noisy: compare lines of one run only. Not a test.
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
REQUEST = orjson.dumps({
    "model": "meta-llama/Llama-3.1-8B-Instruct", "max_tokens": 64, "temperature": 0.2, "user": "bench",
    "messages": [{"role": "system", "content": "You are a concise assistant for a GPU cloud."},
                 {"role": "user", "content": "Say hello to the transport benchmark in one short sentence, please."}]})
RESPONSE = orjson.dumps({
    "id": "chatcmpl-0123456789abcdef0123456789abcdef", "object": "chat.completion", "created": 1735689600,
    "model": "meta-llama/Llama-3.1-8B-Instruct", "system_fingerprint": "fp_bench",
    "choices": [{"index": 0, "logprobs": None, "finish_reason": "stop", "message": {
        "role": "assistant", "content": "Hello, transport benchmark! This answer is a fixed string of about "
                                        "the size of a short chat reply, so both transports carry the same "
                                        "bytes; nothing is generated, only moved between two processes."}}],
    "usage": {"prompt_tokens": 38, "completion_tokens": 41, "total_tokens": 79}})
CHUNKS = [b"data: " + orjson.dumps({
    "id": "chatcmpl-0123456789abcdef0123456789abcdef", "object": "chat.completion.chunk", "created": 1735689600,
    "model": "meta-llama/Llama-3.1-8B-Instruct",
    "choices": [{"index": 0, "delta": {"content": f"word{n} "}, "finish_reason": "stop" if n == 7 else None}]})
    + b"\n\n" for n in range(8)]


# -- upstreams (run as their own processes) --
async def serve_http(port: int) -> None:
    ok = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n" % len(RESPONSE)
    chunked = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                await reader.readexactly(length)
                if head.startswith(b"POST /stream"):
                    writer.write(chunked)
                    for chunk in CHUNKS:  # one write per chunk, as a token-by-token engine does
                        writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                        await writer.drain()
                    writer.write(b"0\r\n\r\n")
                else:
                    writer.write(ok + RESPONSE)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port)
    print("ready", flush=True)
    await server.serve_forever()


async def serve_nats(url: str) -> None:
    import nats

    nc = await nats.connect(url)

    async def chat(msg) -> None:
        await msg.respond(RESPONSE)

    async def stream(msg) -> None:
        for chunk in CHUNKS:
            await nc.publish(msg.reply, chunk)
        await nc.publish(msg.reply, b"")  # end of stream

    await nc.subscribe("bench.chat", queue="bench", cb=chat)
    await nc.subscribe("bench.stream", queue="bench", cb=stream)
    await nc.flush()
    print("ready", flush=True)
    await asyncio.Event().wait()


# -- the proxy side --
def cpu_s(pid: int | None = None) -> float:
    import psutil

    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


async def measure(call, concurrency: int, seconds: float, pids: list[int]) -> tuple:
    """(req/s, p50 ms, p99 ms, errors, [CPU µs/req of this process, then of each of `pids`])."""
    async def worker(until: float, latencies: list[float], errors: list[int]) -> None:
        while time.perf_counter() < until:
            t = time.perf_counter()
            try:
                await call()
            except Exception:  # noqa: BLE001 - counted, the bench goes on
                errors.append(1)
                continue
            latencies.append(time.perf_counter() - t)

    await asyncio.gather(*(worker(time.perf_counter() + 0.3, [], []) for _ in range(concurrency)))
    latencies: list[float] = []
    errors: list[int] = []
    cpus = [cpu_s(pid) for pid in [os.getpid(), *pids]]
    start = time.perf_counter()
    await asyncio.gather(*(worker(start + seconds, latencies, errors) for _ in range(concurrency)))
    elapsed = time.perf_counter() - start
    n = max(1, len(latencies))
    cpus = [(cpu_s(pid) - before) / n * 1e6 for pid, before in zip([os.getpid(), *pids], cpus, strict=True)]
    latencies.sort()
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000 if latencies else 0.0
    return len(latencies) / elapsed, pick(0.50), pick(0.99), len(errors), cpus


def start(args: list[str]) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "tests.bench.bench_transport", *args], cwd=ROOT,
                            stdout=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.stdout.readline().strip() == b"ready"
    return proc


async def main(args) -> None:
    import nats

    from bus.server import ServerProcess
    from gateway.proxy.http1 import Client
    from tests.integration.test_proxy_standin import free_port

    home = Path(tempfile.mkdtemp(prefix="bench-transport-"))
    server = ServerProcess(store_dir=home / "store").start()
    port = free_port()
    http_proc, nats_proc = start(["--serve-http", str(port)]), start(["--serve-nats", server.url])
    client = Client()
    nc = await nats.connect(server.url)
    streams: dict[str, asyncio.Queue] = {}
    prefix = nc.new_inbox()

    async def route(msg) -> None:
        if queue := streams.get(msg.subject):
            queue.put_nowait(msg.data)

    await nc.subscribe(prefix + ".*", cb=route)
    counter = [0]
    headers = b"content-type: application/json\r\n"

    async def http_chat() -> None:
        response = await client.request("POST", f"http://127.0.0.1:{port}/chat", REQUEST, headers)
        assert len(await response.aread()) == len(RESPONSE)

    async def http_stream() -> None:
        response = await client.request("POST", f"http://127.0.0.1:{port}/stream", REQUEST, headers)
        got = [chunk async for chunk in response.aiter_raw()]
        assert len(got) == len(CHUNKS), len(got)

    async def nats_chat() -> None:
        assert len((await nc.request("bench.chat", REQUEST, timeout=5)).data) == len(RESPONSE)

    async def nats_stream() -> None:
        counter[0] += 1
        inbox = f"{prefix}.{counter[0]}"
        queue = streams[inbox] = asyncio.Queue()
        try:
            await nc.publish("bench.stream", REQUEST, reply=inbox)
            got = 0
            while await asyncio.wait_for(queue.get(), 5):
                got += 1
            assert got == len(CHUNKS), got
        finally:
            del streams[inbox]

    print(f"# transport bench: {os.cpu_count()} cores, {args.seconds:g} s per point, request {len(REQUEST)} B, "
          f"answer {len(RESPONSE)} B or {len(CHUNKS)} chunks of ~{len(CHUNKS[0])} B; "
          f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    try:
        for kind, pairs in (("unary", (("http", http_chat), ("nats", nats_chat))),
                            ("stream8", (("http", http_stream), ("nats", nats_stream)))):
            for c in args.concurrency:
                results = {}
                for name, call in pairs:
                    pids = [http_proc.pid] if name == "http" else [nats_proc.pid, server.pid]
                    rps, p50, p99, err, cpus = results[name] = await measure(call, c, args.seconds, pids)
                    extra = f"  nats-server {cpus[2]:5.0f}" if name == "nats" else ""
                    print(f"transport.{kind}.c{c}.{name}  {rps:8.0f} req/s  p50 {p50:6.2f} ms  p99 {p99:6.2f} ms"
                          f"  errors {err}  CPU us/req: proxy {cpus[0]:5.0f}  upstream {cpus[1]:5.0f}{extra}")
                (h_rps, h50, h99, *_), (n_rps, n50, n99, *_) = results["http"], results["nats"]
                print(f"transport.{kind}.c{c}.nats/http  throughput {n_rps / max(h_rps, 1e-9):5.2f}x  "
                      f"p50 {n50 - h50:+6.2f} ms  p99 {n99 - h99:+6.2f} ms (reference: http, same run)")
    finally:
        await client.aclose()
        await nc.close()
        for proc in (http_proc, nats_proc):
            proc.terminate()
            proc.wait(10)
        server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--quick", action="store_true", help="1 s per point")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--serve-http", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--serve-nats", metavar="URL", help=argparse.SUPPRESS)
    parsed = parser.parse_args()
    if parsed.serve_http:
        asyncio.run(serve_http(parsed.serve_http))
    elif parsed.serve_nats:
        asyncio.run(serve_nats(parsed.serve_nats))
    else:
        parsed.seconds = 1.0 if parsed.quick else parsed.seconds
        asyncio.run(main(parsed))
