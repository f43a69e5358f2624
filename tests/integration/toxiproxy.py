"""A NATS-protocol-aware TCP proxy for fault injection (T3).

It sits between one nats-py client and nats-server and parses both directions
frame by frame (the NATS client protocol: `PUB`/`HPUB` with payloads, `MSG`/
`HMSG` with payloads, and one-line ops), so it can act on ONE publish by its
`Nats-Msg-Id` header:

- `"drop_ack"`   forward the publish, drop the server's reply (the PubAck, or a
                 rejection) — the write landed, the client never hears of it;
- `"drop_pub"`   drop the publish itself — nothing landed;
- `"hold_pub"`   hold the publish back and forward it only just before the next
                 publish with the same id (the client's resend): the first copy
                 lands after the client's read-back said "absent", the race a
                 slow network or a leader change produces;
- `"no_responders"` drop the publish and answer the client with a 503 status
                 ("no responders"), as a server does while a stream has no leader;
- `"pass"`       forward as is.

With `drop_direct = True` the answers to Direct Get requests are dropped too,
so a read-back times out. `drop_sequences` holds stream sequences whose next
JetStream delivery (a message with a `$JS.ACK.` reply) is dropped on the way to
the client (once each); `cut()` closes every proxied connection and keeps
listening.

`plan[msg_id]` is the list of actions for that id's 1st, 2nd, ... publish;
attempts beyond the list pass. Every other frame (Direct Get requests and their
replies, pings, subscriptions) is forwarded untouched and in order.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from dataclasses import dataclass, field

CRLF = b"\r\n"


@dataclass
class Frame:
    raw: bytes
    op: str
    args: list[str] = field(default_factory=list)
    headers: bytes = b""

    @property
    def msg_id(self) -> str | None:
        for line in self.headers.split(CRLF)[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"nats-msg-id":
                return value.strip().decode()
        return None


async def read_frame(reader: asyncio.StreamReader) -> Frame | None:
    try:
        line = await reader.readuntil(CRLF)
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    parts = line[:-2].decode(errors="replace").split()
    op = parts[0].upper() if parts else ""
    args = parts[1:]
    raw, headers = line, b""
    if op in ("PUB", "MSG"):  # <subject> [...] <size>
        payload = await reader.readexactly(int(args[-1]) + 2)
        raw += payload
    elif op in ("HPUB", "HMSG"):  # <subject> [...] <header size> <total size>
        payload = await reader.readexactly(int(args[-1]) + 2)
        headers = payload[: int(args[-2])]
        raw += payload
    return Frame(raw=raw, op=op, args=args, headers=headers)


class Proxy:
    def __init__(self, upstream_port: int, plan: dict[str, list[str]] | None = None) -> None:
        self.upstream_port = upstream_port
        self.plan = plan or {}
        self.port = 0
        self.sent: collections.Counter[str] = collections.Counter()  # publishes seen per msg id
        self.applied: collections.Counter[str] = collections.Counter()  # actions taken
        self._drop_replies: set[str] = set()  # reply subjects whose answer is to be dropped
        self._held: dict[str, bytes] = {}
        self._subs: dict[str, str] = {}  # subscription subject -> sid, to address an injected reply
        self.drop_direct = False
        self.drop_sequences: set[int] = set()
        self._server: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Task] = set()
        self._writers: list[asyncio.StreamWriter] = []

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    async def start(self) -> Proxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        if self._server:
            self._server.close()
        for w in self._writers:
            w.close()
        for t in list(self._tasks):
            t.cancel()
        for t in list(self._tasks):
            with contextlib.suppress(BaseException):
                await t
        if self._server:
            with contextlib.suppress(Exception):
                await self._server.wait_closed()

    async def cut(self) -> None:
        for w in self._writers:
            w.close()
        self._writers = []

    async def _accept(self, c_reader: asyncio.StreamReader, c_writer: asyncio.StreamWriter) -> None:
        s_reader, s_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        self._writers += [c_writer, s_writer]
        for coro in (self._upstream(c_reader, s_writer, c_writer), self._downstream(s_reader, c_writer)):
            task = asyncio.ensure_future(coro)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _action(self, frame: Frame) -> str:
        msg_id = frame.msg_id
        if msg_id is None:
            return "pass"
        attempt = self.sent[msg_id]
        self.sent[msg_id] += 1
        actions = self.plan.get(msg_id, [])
        return actions[attempt] if attempt < len(actions) else "pass"

    def _no_responders(self, reply: str) -> bytes:
        sid = self._subs.get(reply) or self._subs[reply.rsplit(".", 1)[0] + ".*"]
        status = b"NATS/1.0 503\r\n\r\n"
        return f"HMSG {reply} {sid} {len(status)} {len(status)}\r\n".encode() + status + CRLF

    async def _upstream(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                        client: asyncio.StreamWriter) -> None:
        try:
            while (frame := await read_frame(reader)) is not None:
                if frame.op == "SUB":  # SUB <subject> [queue] <sid>
                    self._subs[frame.args[0]] = frame.args[-1]
                if frame.op == "PUB" and self.drop_direct and frame.args[0].startswith("$JS.API.DIRECT.GET."):
                    if len(frame.args) == 3:
                        self._drop_replies.add(frame.args[1])
                if frame.op == "HPUB":
                    held = self._held.pop(frame.msg_id, None) if frame.msg_id else None
                    if held is not None:  # the resend: let the first copy land just before it
                        writer.write(held)
                    action = self._action(frame)
                    self.applied[action] += 1
                    if action == "drop_pub":
                        continue
                    if action == "no_responders":
                        client.write(self._no_responders(frame.args[1]))
                        continue
                    if action == "hold_pub":
                        self._held[frame.msg_id] = frame.raw
                        continue
                    if action == "drop_ack" and len(frame.args) == 4:  # subject reply hsize tsize
                        self._drop_replies.add(frame.args[1])
                writer.write(frame.raw)
                await writer.drain()
        finally:
            writer.close()

    async def _downstream(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while (frame := await read_frame(reader)) is not None:
                if frame.op in ("MSG", "HMSG") and frame.args[0] in self._drop_replies:
                    self._drop_replies.discard(frame.args[0])
                    continue
                if frame.op in ("MSG", "HMSG") and len(frame.args) > 2 and frame.args[2].startswith("$JS.ACK."):
                    seq = int(frame.args[2].split(".")[5])
                    if seq in self.drop_sequences:
                        self.drop_sequences.discard(seq)
                        continue
                writer.write(frame.raw)
                await writer.drain()
        finally:
            writer.close()
