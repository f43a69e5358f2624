"""Scanning a stored range of a stream fast: the read behind catch-ups and rebuilds.

`await scan(nc, stream, on_batch, start_seq=S, end_seq=E, subject=None)` hands
every message stored from S to E (inclusive; matching `subject` if given) to
`on_batch(list[(subject, seq, data)])` in stream order, each sequence once,
and returns the last sequence handed over (0 if none). `on_batch` may be a
coroutine function; the next batch waits until it returns, and an error it
raises ends the scan and is raised from `scan`.

Why not `bus.read.replay`: nats-py turns each delivered message into several
objects and coroutine steps (regex parse, header dict, Msg, ordered-consumer
bookkeeping, a queue, the subscription task, the callback), ~13 µs a message,
the largest single cost of a rebuild. A scan opens its own connection with
`nc`'s options (servers, credentials, TLS) and replaces that connection's
protocol parser with `_Frames`, which splits a whole read (32 KiB) into
frames with `bytes.find` and keeps of each message only its subject, stream
sequence and payload (headers are not needed to rebuild state).

The consumer is what an ordered consumer is: ephemeral, push, no acks, in
memory, flow-controlled, with idle heartbeats, delivering from S. Its
sequence (delivered count) must go 1, 2, 3, …; on a gap, or when the
connection is lost, a new connection and consumer go on from the last
sequence handed over + 1 (up to `attempts` times), so nothing is skipped or
repeated. The scan ends at E, or when the server says nothing matching is
pending. Flow-control requests are answered once the messages before them
were handed over (the server then never has more than its flow-control window
in flight to a busy reader); a heartbeat naming a stalled consumer is answered
too. Silence for `stall_timeout` seconds (no message, no heartbeat) while
no batch is being handled is a `ScanStalled` error: the caller's retry
resumes from what it applied.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import orjson
from nats.aio.client import Client
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

log = logging.getLogger("tessera.bus")

Frame = tuple[str, int, bytes]  # (subject, stream sequence, payload)
OnBatch = Callable[[list[Frame]], Awaitable[None] | None]
BATCH = 2000  # messages per hand-over at most (a read of 32 KiB holds fewer)
_CONNECT_OPTIONS = ("user", "password", "token", "tls", "tls_hostname", "tls_handshake_first", "no_echo")


class ScanStalled(ConnectionError):
    pass


class _Resume(Exception):
    """A gap in the consumer's sequence or a lost connection: go on from the last sequence handed over."""


async def scan(nc: Client, stream: str, on_batch: OnBatch, *, start_seq: int = 1, end_seq: int | None = None,
               subject: str | None = None, stall_timeout: float = 10.0, attempts: int = 5) -> int:
    js = nc.jetstream()
    if end_seq is None:
        end_seq = (await js.stream_info(stream)).state.last_seq
    start_seq = max(start_seq, 1)
    last = 0
    for attempt in range(attempts):
        if max(start_seq, last + 1) > end_seq:
            break
        frames = _Frames(on_batch, end_seq, stall_timeout)
        try:
            frames.conn = await _connect_like(nc, frames.lost)
            return max(await frames.run(js, stream, subject, max(start_seq, last + 1)), last)
        except _Resume as exc:
            log.info("scan of %s: %s after sequence %d, resuming", stream, exc, max(last, frames.last))
            await asyncio.sleep(0.05 * attempt)
        finally:
            last = max(last, frames.last)
            await frames.close(js, stream)
    else:
        raise ScanStalled(f"scan of {stream}: interrupted {attempts} times, last at sequence {last}")
    return last


async def _connect_like(nc: Client, closed_cb: Callable[[], Awaitable[None]]) -> Client:
    """A second connection with `nc`'s servers and credentials (creds files included)."""
    options = {k: nc.options[k] for k in _CONNECT_OPTIONS if nc.options.get(k) is not None}
    creds = getattr(nc, "_user_credentials", None)
    if creds is not None:
        options["user_credentials"] = creds
    seed = getattr(nc, "_nkeys_seed", None)
    if seed is not None:
        options["nkeys_seed"] = seed
    servers = [f"{s.uri.scheme}://{s.uri.netloc}" for s in nc._server_pool] or [nc.connected_url.geturl()]
    reader = Client()
    await reader.connect(servers=servers, name=f"{nc.options.get('name') or 'tessera'}-scan",
                         allow_reconnect=False, connect_timeout=2, closed_cb=closed_cb, **options)
    return reader


class _Frames:
    """The scan connection's protocol parser (replaces nats-py's `Parser` on that connection)."""

    def __init__(self, on_batch: OnBatch, end_seq: int, stall_timeout: float) -> None:
        self.conn: Client | None = None
        self.on_batch = on_batch
        self.end_seq = end_seq
        self.stall_timeout = stall_timeout
        self.last = 0  # last stream sequence handed over
        self.buf = b""
        self.sid = 0
        self.expected = 1  # next consumer sequence
        self.consumer: str | None = None
        self.done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.heard = asyncio.Event()
        self.handling = False

    async def run(self, js, stream: str, subject: str | None, start: int) -> int:
        inbox = self.conn.new_inbox()
        sub = await self.conn.subscribe(inbox)
        self.sid = sub._id
        original, self.conn._ps = self.conn._ps, self
        try:
            config = ConsumerConfig(
                deliver_subject=inbox, ack_policy=AckPolicy.NONE, flow_control=True, idle_heartbeat=1.0,
                deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=start, mem_storage=True,
                inactive_threshold=30.0, num_replicas=1, max_deliver=1, filter_subject=subject)
            info = await js.add_consumer(stream, config=config)
            self.consumer = info.name
            if info.num_pending == 0:
                return 0
            while not self.done.done():
                self.heard.clear()
                try:
                    await asyncio.wait_for(asyncio.shield(self._heard_or_done()), self.stall_timeout)
                except TimeoutError:
                    if self.handling:  # the reader is busy with a batch, not waiting for the server
                        continue
                    raise ScanStalled(f"scan of {stream}: nothing from the server for {self.stall_timeout:g}s "
                                      f"after sequence {self.last}") from None
            return self.done.result()
        finally:
            self.conn._ps = original
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    async def _heard_or_done(self) -> None:
        heard = asyncio.ensure_future(self.heard.wait())
        try:
            await asyncio.wait((heard, self.done), return_when=asyncio.FIRST_COMPLETED)
        finally:
            heard.cancel()

    async def lost(self) -> None:
        if not self.done.done():
            self.done.set_exception(_Resume("connection lost"))

    async def close(self, js, stream: str) -> None:
        if self.consumer is not None:
            with contextlib.suppress(Exception):
                await js.delete_consumer(stream, self.consumer)
        if self.conn is not None and not self.conn.is_closed:
            try:
                await self.conn.close()
            except asyncio.CancelledError:  # its read loop's, when a batch was being handled: not ours
                if asyncio.current_task().cancelling():
                    raise
            except Exception:  # noqa: BLE001 - closing a reader that failed: nothing left to do
                pass

    # --- the parser interface nats-py's read loop calls ---------------------------------------------------

    def reset(self) -> None:
        self.buf = b""

    async def parse(self, data: bytes = b"") -> None:
        if self.done.done():
            return
        self.heard.set()
        buf = self.buf + data if self.buf else data
        batch: list[Frame] = []
        pos, size = 0, len(buf)
        try:
            while pos < size:
                eol = buf.find(b"\r\n", pos)
                if eol < 0:
                    break
                op = buf[pos:pos + 4]
                if op == b"HMSG" or op[:3] == b"MSG":
                    headers = op == b"HMSG"
                    args = buf[pos + (5 if headers else 4):eol].split()
                    total = int(args[-1])
                    end = eol + 2 + total
                    if end + 2 > size:
                        break
                    hlen = int(args[-2]) if headers else 0
                    reply = args[2] if len(args) == (5 if headers else 4) else b""
                    body = eol + 2
                    pos = end + 2
                    if headers and buf.startswith(b"NATS/1.0 100", body):  # flow control or heartbeat
                        await self._control(batch, reply, buf[body:body + hlen])
                        batch = []
                        continue
                    if int(args[1]) != self.sid:
                        continue
                    tokens = reply.split(b".")
                    if len(tokens) == 9:
                        seq, cseq, pending = int(tokens[5]), int(tokens[6]), int(tokens[8])
                    else:
                        seq, cseq, pending = int(tokens[7]), int(tokens[8]), int(tokens[10])
                    if cseq != self.expected:
                        raise _Resume(f"consumer sequence {cseq}, expected {self.expected}")
                    self.expected += 1
                    if seq > self.end_seq:
                        return await self._finish_after(batch)
                    batch.append((args[0].decode(), seq, buf[body + hlen:end]))
                    if seq == self.end_seq or pending == 0:
                        return await self._finish_after(batch)
                    if len(batch) >= BATCH:
                        await self._hand_over(batch)
                        batch = []
                    continue
                pos = await self._protocol(op, buf, pos, eol)
            await self._hand_over(batch)
            self.buf = buf[pos:]
        except BaseException as exc:  # noqa: BLE001 - the scan's caller gets it, the read loop goes on
            if not self.done.done():
                self.done.set_exception(exc)

    async def _hand_over(self, batch: list[Frame]) -> None:
        if batch:
            self.handling = True
            try:
                result = self.on_batch(batch)
                if result is not None:
                    await result
            finally:
                self.handling = False
                self.heard.set()
            self.last = batch[-1][1]

    async def _finish_after(self, batch: list[Frame]) -> None:
        await self._hand_over(batch)
        if not self.done.done():
            self.done.set_result(self.last)

    async def _control(self, batch: list[Frame], reply: bytes, headers: bytes) -> None:
        await self._hand_over(batch)
        if reply:  # a flow-control request: everything before it was handed over
            await self.conn.publish(reply.decode())
            return
        for line in headers.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"nats-consumer-stalled" and value.strip():
                await self.conn.publish(value.strip().decode())

    async def _protocol(self, op: bytes, buf: bytes, pos: int, eol: int) -> int:
        """Everything but messages: PING, PONG, +OK, -ERR, INFO (nats-py's handlers). Returns the next position."""
        line = buf[pos:eol]
        if op == b"PING":
            await self.conn._process_ping()
        elif op == b"PONG":
            await self.conn._process_pong()
        elif op.startswith(b"-ERR"):
            raise ConnectionError(f"scan connection: server error {line[5:].decode(errors='replace')}")
        elif op == b"INFO":
            await self.conn._process_info(orjson.loads(line[5:]))
        elif not op.startswith(b"+OK"):
            raise ConnectionError(f"scan connection: unexpected protocol line {line[:40]!r}")
        return eol + 2
