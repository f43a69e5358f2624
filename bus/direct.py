"""Point and range reads through JetStream's Direct Get API (`allow_direct`).

Direct Get answers from any replica without creating a consumer, so loading one
aggregate costs one request per 1,000 of its events and never scans the
stream: `read_subject` asks for the messages matching one subject filter
(`next_by_subj` + `batch`), the server streams them to an inbox and ends with
an end-of-batch status (204). `last_for` reads the last message on a subject
(wildcards allowed) — how a timed-out publish is resolved and how a writer
learns an aggregate's head.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import orjson
from nats.aio.client import Client

from bus.errors import BusError

BATCH = 1000


@dataclass(frozen=True)
class StoredMsg:
    subject: str
    seq: int
    data: bytes
    headers: dict[str, str] = field(default_factory=dict)
    pending: int | None = None  # messages after this one matching the read (consumer reads only)

    @property
    def msg_id(self) -> str | None:
        return self.headers.get("Nats-Msg-Id")

    @property
    def time(self) -> str | None:
        return self.headers.get("Nats-Time-Stamp")


def _stored(msg) -> StoredMsg:
    headers = dict(msg.headers or {})
    return StoredMsg(
        subject=headers.get("Nats-Subject", msg.subject), seq=int(headers["Nats-Sequence"]),
        data=msg.data, headers=headers,
    )


def _status(msg) -> str | None:
    return (msg.headers or {}).get("Status") if not msg.data else None


async def last_for(nc: Client, stream: str, subject: str, timeout: float = 5.0) -> StoredMsg | None:
    reply = await nc.request(
        f"$JS.API.DIRECT.GET.{stream}", orjson.dumps({"last_by_subj": subject}), timeout=timeout
    )
    status = _status(reply)
    if status == "404":
        return None
    if status:
        raise BusError(f"direct get on {stream} failed: status {status}")
    return _stored(reply)


async def get_seq(nc: Client, stream: str, seq: int, timeout: float = 5.0) -> StoredMsg | None:
    reply = await nc.request(f"$JS.API.DIRECT.GET.{stream}", orjson.dumps({"seq": seq}), timeout=timeout)
    status = _status(reply)
    if status == "404":
        return None
    if status:
        raise BusError(f"direct get on {stream} failed: status {status}")
    return _stored(reply)


async def read_subject(
    nc: Client, stream: str, subject: str, *, start_seq: int = 1, limit: int | None = None, timeout: float = 5.0
) -> list[StoredMsg]:
    """All messages matching `subject` from `start_seq` on, in stream order."""
    out: list[StoredMsg] = []
    inbox = nc.new_inbox()
    sub = await nc.subscribe(inbox)
    try:
        seq = start_seq
        while limit is None or len(out) < limit:
            want = BATCH if limit is None else min(BATCH, limit - len(out))
            await nc.publish(
                f"$JS.API.DIRECT.GET.{stream}",
                orjson.dumps({"seq": seq, "next_by_subj": subject, "batch": want}),
                reply=inbox,
            )
            got, more = 0, False
            while True:
                msg = await sub.next_msg(timeout=timeout)
                status = _status(msg)
                if status == "404":
                    break
                if status == "204":  # end of batch: more exist when the server says so
                    more = int((msg.headers or {}).get("Nats-Num-Pending", "0")) > 0
                    break
                if status:
                    raise BusError(f"direct get on {stream} failed: status {status}")
                stored = _stored(msg)
                out.append(stored)
                got += 1
                seq = stored.seq + 1
            if not more or got == 0:
                break
    except asyncio.TimeoutError:
        raise BusError(f"direct get on {stream} for {subject} timed out") from None
    finally:
        await sub.unsubscribe()
    return out
