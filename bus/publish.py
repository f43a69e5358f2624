"""Publishing to JetStream: the only way anything is written to the log.

Guarantees (DESIGN.md, "The log"):
- Only a PubAck is success. Every message carries `Nats-Msg-Id` (its own
  deterministic id), so a retried publish is dropped by JetStream as a duplicate.
- Per-aggregate optimistic concurrency: an `Expectation` sets
  `Nats-Expected-Last-Subject-Sequence` (+ `-Subject` with the aggregate's
  wildcard). The server's "wrong last sequence" (10071/10164) becomes
  `ConcurrencyConflict`: the caller reloads and decides again.
- The events of one decision are one atomic batch (`Nats-Batch-Id/-Sequence/
  -Commit`): all stored or none.
- The server checks expectations before `Nats-Msg-Id` duplicates (nats-server
  2.15), so a resend whose first copy landed answers "conflict"; a resend's
  conflict is therefore checked against the stream before it is reported.
- A publish whose ack does not arrive is unknown, not failed. It is resolved by
  reading the last message of its subject and comparing `Nats-Msg-Id`; only if
  that shows it absent is it sent again — same ids, same expectation — so a
  copy that did land is dropped as a duplicate or fails the expectation, never
  stored twice. If no attempt gets an answer: `PublishOutcomeUnknown`.

nats-py is used directly (not FastStream): FastStream's publisher has no notion
of atomic batches, expected-sequence errors or ack-timeout resolution.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from dataclasses import dataclass, field

import orjson
from nats.aio.client import Client
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout
from nats.nuid import NUID

from bus import direct
from bus.errors import BusError, ConcurrencyConflict, PublishError, PublishOutcomeUnknown

CONFLICT_CODES = (10071, 10164)
DUPLICATE_IN_BATCH = 10201
_LAST_SEQ = re.compile(r"wrong last sequence: (\d+)")
_WILD = re.compile(r"(^|\.)[*>](\.|$)")  # a wildcard token


class DuplicateBatch(PublishError):
    """An atomic batch carried a message id the stream already holds: the decision was already recorded."""


@dataclass(frozen=True)
class OutMsg:
    subject: str
    data: bytes
    msg_id: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Expectation:
    """The aggregate's head as the decision saw it: last sequence on `subject_filter` (0 = empty)."""

    subject_filter: str
    last_sequence: int

    def headers(self) -> dict[str, str]:
        return {
            "Nats-Expected-Last-Subject-Sequence": str(self.last_sequence),
            "Nats-Expected-Last-Subject-Sequence-Subject": self.subject_filter,
        }


@dataclass(frozen=True)
class Ack:
    stream: str
    seq: int
    count: int = 1
    duplicate: bool = False

    @property
    def first_seq(self) -> int:
        return self.seq - self.count + 1


class Publisher:
    def __init__(self, nc: Client, *, timeout: float = 5.0, attempts: int = 3, stream: str = "EVT") -> None:
        self.nc = nc
        self.timeout = timeout
        self.attempts = attempts
        self.stream = stream  # where unknown outcomes are read back from
        self._nuid = NUID()

    async def publish(self, msg: OutMsg, expect: Expectation | None = None) -> Ack:
        headers = {**msg.headers, "Nats-Msg-Id": msg.msg_id}
        if expect:
            headers.update(expect.headers())
        return await self._resolving(msg, expect, lambda: self._request(msg.subject, msg.data, headers))

    async def publish_batch(self, msgs: list[OutMsg], expect: Expectation | list[Expectation] | None = None) -> Ack:
        """All of `msgs` or none. Expectations ride on the first message of their filter."""
        if not msgs:
            raise ValueError("an atomic batch needs at least one message")
        if len(msgs) == 1 and not isinstance(expect, list):
            return await self.publish(msgs[0], expect)
        expects = expect if isinstance(expect, list) else [expect] if expect else []
        return await self._resolving(msgs[-1], expects[0] if expects else None, lambda: self._batch(msgs, expects))

    async def publish_many(self, msgs: list[OutMsg], window: int = 4096) -> list[Ack]:
        """Independent messages, pipelined: up to `window` in flight, each still needing its own PubAck.

        All replies come to one wildcard inbox (a subscription per call, not a future
        and a timer per message). A message whose ack does not arrive in time goes
        through `publish`'s resolution (read back, then resend with the same id).
        Messages are independent: if one is rejected the others still land, and the
        first rejection is raised after all have been answered.
        """
        acks: list[Ack | BaseException | None] = [None] * len(msgs)
        if not msgs:
            return []
        prefix = self.nc.new_inbox()
        slots = asyncio.Semaphore(window)
        answered = asyncio.Event()
        remaining = len(msgs)

        async def on_reply(reply) -> None:
            nonlocal remaining
            index = int(reply.subject.rsplit(".", 1)[1])
            if acks[index] is not None:
                return
            try:
                if not reply.data:  # a bare status: 503, no stream takes the subject (as `publish` reports it)
                    raise PublishError(f"no stream accepts subject {msgs[index].subject}", code=503)
                acks[index] = _ack(reply.data, {})
            except PublishError as exc:
                acks[index] = exc
            slots.release()
            remaining -= 1
            if remaining == 0:
                answered.set()

        sub = await self.nc.subscribe(f"{prefix}.*", cb=on_reply)
        try:
            for index, m in enumerate(msgs):
                await slots.acquire()
                await self.nc.publish(m.subject, m.data, reply=f"{prefix}.{index}",
                                      headers={**m.headers, "Nats-Msg-Id": m.msg_id})
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(answered.wait(), self.timeout)
        finally:
            await sub.unsubscribe()
        for index, ack in enumerate(acks):
            if ack is None:  # unanswered: unknown, resolved like any timed-out publish
                acks[index] = await self.publish(msgs[index])
        for ack in acks:
            if isinstance(ack, BaseException):
                raise ack
        return acks  # type: ignore[return-value]

    async def _resolving(self, last: OutMsg, expect: Expectation | None, send) -> Ack:
        for attempt in range(self.attempts):
            try:
                return await send()
            except (NatsTimeout, asyncio.TimeoutError):
                found = await self._read_back(last)
                if found is not None:
                    return found
            except (DuplicateBatch, ConcurrencyConflict):
                if attempt == 0:
                    raise
                # a retry whose first copy landed after our read-back: the server checks the
                # expectation before the duplicate window, so the copy shows up as a conflict
                found = await self._find_landed(last, expect)
                if found is not None:
                    return found
                raise
            except PublishError as exc:
                if attempt == 0:
                    raise
                # the resend was refused (e.g. no responders while a stream elects a leader), but an
                # earlier copy timed out and may have landed: that is still unknown, not failed
                raise PublishOutcomeUnknown(
                    f"no PubAck for {last.subject} (msg id {last.msg_id}); the resend was refused ({exc}) "
                    "and an earlier attempt may have landed"
                ) from exc
        raise PublishOutcomeUnknown(
            f"no PubAck for {last.subject} (msg id {last.msg_id}) after {self.attempts} attempts; "
            "it is not in the stream yet and may still land"
        )

    async def _read_back(self, last: OutMsg) -> Ack | None:
        try:
            stored = await direct.last_for(self.nc, self.stream, last.subject, timeout=self.timeout)
        except (NatsTimeout, asyncio.TimeoutError, NoRespondersError, BusError):  # BusError: a non-404 status
            return None
        if stored is not None and stored.msg_id == last.msg_id:
            return Ack(self.stream, stored.seq, count=int(stored.headers.get("Nats-Batch-Sequence", 1)))
        return None

    async def _find_landed(self, last: OutMsg, expect: Expectation | None) -> Ack | None:
        start = expect.last_sequence + 1 if expect else 1
        subject = expect.subject_filter if expect else last.subject
        for stored in await direct.read_subject(self.nc, self.stream, subject, start_seq=start, limit=direct.BATCH):
            if stored.msg_id == last.msg_id:
                return Ack(self.stream, stored.seq, count=int(stored.headers.get("Nats-Batch-Sequence", 1)))
        return None

    async def _request(self, subject: str, data: bytes, headers: dict[str, str]) -> Ack:
        try:
            reply = await self.nc.request(subject, data, timeout=self.timeout, headers=headers)
        except NoRespondersError:
            raise PublishError(f"no stream accepts subject {subject}", code=503) from None
        return _ack(reply.data, headers)

    async def _batch(self, msgs: list[OutMsg], expects: list[Expectation]) -> Ack:
        batch_id = self._nuid.next().decode()
        pending = {e.subject_filter: e for e in expects}
        # `<literal>.*` filters (an aggregate's subjects) by their literal part: a group commit carries
        # hundreds of expectations, and matching every message against every filter was quadratic
        parents = {flt[:-2]: flt for flt in pending if flt.endswith(".*") and not _WILD.search(flt[:-2])}
        indexed = set(parents.values())
        others = [flt for flt in pending if flt not in indexed]
        for index, m in enumerate(msgs, start=1):
            headers = {**m.headers, "Nats-Msg-Id": m.msg_id, "Nats-Batch-Id": batch_id,
                       "Nats-Batch-Sequence": str(index)}
            flt = parents.pop(m.subject.rpartition(".")[0], None)
            if flt is not None:
                headers.update(pending.pop(flt).headers())
            for flt in [f for f in others if f in pending and _matches(f, m.subject)]:
                headers.update(pending.pop(flt).headers())
            if index < len(msgs):
                await self.nc.publish(m.subject, m.data, headers=headers)
                continue
            headers["Nats-Batch-Commit"] = "1"
            if pending:
                raise ValueError(f"expectation on {sorted(pending)} matches no message of the batch")
            try:
                return await self._request(m.subject, m.data, headers)
            except ConcurrencyConflict as exc:
                # the expectation rode on an earlier message, not this commit: name it in the error
                if len(expects) != 1 or exc.subject_filter != "?":
                    raise
                raise ConcurrencyConflict(
                    expects[0].subject_filter, expects[0].last_sequence, exc.actual, exc.err_code
                ) from None
        raise AssertionError("unreachable")


def _matches(pattern: str, subject: str) -> bool:
    p, s = pattern.split("."), subject.split(".")
    for i, token in enumerate(p):
        if token == ">":
            return len(s) > i
        if i >= len(s) or (token != "*" and token != s[i]):
            return False
    return len(p) == len(s)


def _ack(raw: bytes, headers: dict[str, str]) -> Ack:
    body = orjson.loads(raw)
    err = body.get("error")
    if err:
        code, err_code, text = err.get("code"), err.get("err_code"), err.get("description", "")
        if err_code in CONFLICT_CODES:
            found = _LAST_SEQ.search(text)
            raise ConcurrencyConflict(
                headers.get("Nats-Expected-Last-Subject-Sequence-Subject", "?"),
                int(headers.get("Nats-Expected-Last-Subject-Sequence", -1)),
                int(found.group(1)) if found else None,
                err_code,
            )
        if err_code == DUPLICATE_IN_BATCH:
            raise DuplicateBatch(text, code=code, err_code=err_code)
        raise PublishError(f"JetStream rejected the publish: {text} (err {err_code})", code=code, err_code=err_code)
    return Ack(body["stream"], body["seq"], count=body.get("count", 1), duplicate=body.get("duplicate", False))
