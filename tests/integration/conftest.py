"""Shared pieces of the log's reliability tests (RELIABILITY.md, "The log").

- `Ledger`: ids acknowledged vs ids read back from the stream (STYLE.md rule 16):
  lost = acknowledged but not stored, duplicates = stored more than once,
  unexpected = stored but never attempted. Every failure test ends with
  `ledger.check(stored)` asserting all three are 0.
- `probe_event`: a real envelope (schemas.encode) of a test-only event type, so
  the tests exercise the wire contract rather than ad-hoc bytes.
- `stored_msgs`: every message of a stream, in stream order, read with
  bus.read.replay (an ordered consumer, not Direct Get: independent of the
  code under test's read-back path).
- `cluster`: three clustered nats-server processes on loopback (T5).
- `CountsProjection` / `fold_counts`: the toy read model of T6/T7 and what it
  must equal.
"""

from __future__ import annotations

import collections
import hashlib
import json
import random
import sqlite3
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone

import pytest

from bus.direct import StoredMsg
from bus.publish import OutMsg
from bus.read import replay
from bus.server import ServerProcess
from schemas import Envelope, Event, decode, encode, event_id

T0 = datetime(2025, 1, 1, tzinfo=timezone.utc)


class LogProbeRecorded(Event):
    """Test-only event: which writer decided it, its index, and an optional amount."""

    TYPE = "tessera.testing.log_probe_recorded.v1"

    writer: int
    n: int
    amount: int = 1


def probe_event(tenant: str, aggregate: str, aggregate_id: str, *, writer: int, n: int, version: int,
                amount: int = 1, cause: str | None = None) -> tuple[OutMsg, Envelope]:
    """The event `n` of `writer` on one aggregate; its id is derived from (cause, 0) like a real decision's."""
    cause = cause or f"cmd-{aggregate_id}-w{writer}-n{n}"
    env = Envelope(
        specversion="1.0", id=event_id(cause, 0), source="/tessera/testing", type=LogProbeRecorded.TYPE,
        time=T0, tenant=tenant, actor="test", correlationid=cause, causationid=cause,
        data=LogProbeRecorded(writer=writer, n=n, amount=amount),
        aggregate=aggregate, aggregateid=aggregate_id, version=version,
    )
    subject = f"evt.{tenant}.{aggregate}.{aggregate_id}.log_probe_recorded"
    return OutMsg(subject=subject, data=encode(env), msg_id=env.id), env


@dataclass
class Ledger:
    attempted: set[str] = field(default_factory=set)
    acked: list[str] = field(default_factory=list)
    unknown: set[str] = field(default_factory=set)

    def attempt(self, msg_id: str) -> None:
        self.attempted.add(msg_id)

    def ack(self, msg_id: str) -> None:
        self.acked.append(msg_id)
        self.unknown.discard(msg_id)

    def check(self, stored_ids: list[str]) -> dict[str, int]:
        """Assert lost = duplicates = unexpected = 0; returns the counts for reporting."""
        counts = collections.Counter(stored_ids)
        acked_twice = [i for i, c in collections.Counter(self.acked).items() if c > 1]
        lost = sorted(set(self.acked) - set(counts))
        duplicates = sorted(i for i, c in counts.items() if c > 1)
        unexpected = sorted(set(counts) - self.attempted)
        summary = dict(attempted=len(self.attempted), acked=len(set(self.acked)), stored=len(stored_ids),
                       unknown=len(self.unknown), lost=len(lost), duplicates=len(duplicates),
                       unexpected=len(unexpected))
        assert not acked_twice, f"an id was reported acknowledged twice by the test's writers: {acked_twice[:5]}"
        assert (lost, duplicates, unexpected) == ([], [], []), (
            f"ledger {summary}: lost {lost[:5]}, duplicates {duplicates[:5]}, unexpected {unexpected[:5]}"
        )
        return summary


async def stored_msgs(nc, stream: str = "EVT", subject: str = ">") -> list[StoredMsg]:
    out: list[StoredMsg] = []
    await replay(nc, stream, out.append, subject=subject)
    return out


def versions_by_aggregate(stored: list[StoredMsg], aggregate: str | None = None) -> dict[str, list[int]]:
    """Each aggregate's event versions in stream order (optionally of one aggregate type only)."""
    versions: dict[str, list[int]] = collections.defaultdict(list)
    for m in stored:
        env = decode(m.data)
        if aggregate is None or env.aggregate == aggregate:
            versions[env.aggregateid].append(env.version)
    return dict(versions)


def start_all(servers: list[ServerProcess], timeout: float = 30.0) -> None:
    """Start clustered servers together: each one's /healthz waits for the others (JetStream meta quorum)."""
    errors: list[BaseException] = []

    def run(server: ServerProcess) -> None:
        try:
            server.start(timeout=timeout)
        except BaseException as exc:  # reported below, from the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(s,)) for s in servers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        for s in servers:
            s.kill()
        raise errors[0]


@pytest.fixture
def cluster(tmp_path):
    """Three nats-server processes, one cluster on loopback, `sync_interval: always` (production's setting)."""
    name = f"tessera-{tmp_path.name}"[:40]
    nodes = [
        ServerProcess(store_dir=tmp_path / f"n{i}" / "store", name=f"n{i}", sync_always=True, cluster_name=name)
        for i in range(3)
    ]
    for node in nodes:
        node.routes = [other.cluster_port for other in nodes if other is not node]
    start_all(nodes)
    yield nodes
    for node in nodes:
        node.stop()


class CountsProjection:
    """A toy read model: events and summed amounts per aggregate, in SQLite.

    Its effect and its tracking position (the last applied stream sequence) are
    written in ONE transaction, so after any crash the two agree: a message at
    or below the position was applied and is skipped (returns False), one above
    it is applied exactly once. A single position is only sound when nothing
    newer is applied before an older unapplied message — true for in-order
    replay, and for a consumer whose only failures happen after the commit or
    which has at most one unacknowledged message (max_ack_pending=1).
    """

    def __init__(self, path) -> None:
        self.conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("CREATE TABLE IF NOT EXISTS counts (aggregate TEXT PRIMARY KEY, events INT, total INT)")
        self.conn.execute("CREATE TABLE IF NOT EXISTS position (id INT PRIMARY KEY CHECK (id = 1), seq INT)")
        self.conn.execute("INSERT OR IGNORE INTO position VALUES (1, 0)")

    def apply(self, seq: int, data: bytes) -> bool:
        env = decode(data)
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            (position,) = self.conn.execute("SELECT seq FROM position").fetchone()
            if seq <= position:
                self.conn.execute("ROLLBACK")
                return False
            self.conn.execute(
                "INSERT INTO counts VALUES (?, 1, ?) ON CONFLICT(aggregate) DO UPDATE "
                "SET events = events + 1, total = total + excluded.total",
                (env.aggregateid, env.data.amount),
            )
            self.conn.execute("UPDATE position SET seq = ?", (seq,))
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        return True

    def position(self) -> int:
        return self.conn.execute("SELECT seq FROM position").fetchone()[0]

    def rows(self) -> dict[str, tuple[int, int]]:
        return {a: (n, t) for a, n, t in self.conn.execute("SELECT aggregate, events, total FROM counts ORDER BY 1")}

    def digest(self) -> str:
        body = json.dumps({"position": self.position(), "counts": self.rows()}, sort_keys=True)
        return hashlib.sha256(body.encode()).hexdigest()

    def close(self) -> None:
        self.conn.close()


def fold_counts(msgs: list[StoredMsg]) -> dict[str, tuple[int, int]]:
    """The read model computed straight from the events: what the projection must equal."""
    out: dict[str, tuple[int, int]] = {}
    for m in msgs:
        env = decode(m.data)
        n, t = out.get(env.aggregateid, (0, 0))
        out[env.aggregateid] = (n + 1, t + env.data.amount)
    return dict(sorted(out.items()))


async def publish_counted_events(nc, count: int, *, aggregates: int = 100, seed: int = 7, prefix: str = "c") -> None:
    """`count` events over `aggregates` aggregates on evt.t.count.*, random amounts, all acknowledged."""
    from bus.publish import Publisher

    rng = random.Random(seed)
    msgs = [
        probe_event("t", "count", f"{prefix}{rng.randrange(aggregates)}", writer=0, n=i, version=1,
                    amount=rng.randrange(1, 100), cause=f"count-{prefix}-{i}")[0]
        for i in range(count)
    ]
    acks = await Publisher(nc).publish_many(msgs)
    assert len(acks) == count and not any(a.duplicate for a in acks)
