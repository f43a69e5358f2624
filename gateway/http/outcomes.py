"""What became of a command the gateway sent: applied locally, rejected, handled without effect, or unknown.

`Outcomes` is three listeners and a table of waiters:
- a projection (last in the gateway's ProjectionRunner, so it sees a batch
  only after the read models before it applied that batch) that resolves the
  waiter of every event's `causationid`: once it fires, a read of the
  gateway's own models shows the command's effect (read-your-writes);
- a core NATS subscription to `dlq.CMD.<control durable>` that resolves the
  waiter of a dead-lettered command (matched by the original `Nats-Msg-Id`,
  which is the command id) with the letter's reason;
- for commands the domain accepts but decides nothing for (a repeat, a goal
  state that already holds): one poller, running only while some waiter is
  older than `settle` seconds, reads the control consumer's ack floor. A
  command at or below it was handled, so its events (if any) were stored
  before that; once the read models have applied EVT up to its head as read
  after the ack floor, a waiter still open is resolved `Handled` (no events).
  One consumer-info request per `poll` seconds at most, whatever the load.

Use: `waiter = outcomes.expect(id)` BEFORE sending (so no answer can be
missed), send, `outcomes.sent(waiter, ack.seq)`, then
`await outcomes.wait(waiter, timeout)` -> `Applied`, `Handled`,
`Rejected(reason)` or `Pending` (timeout). A bounded memory of recently
applied causation ids answers a repeat of an applied command at once.
Nothing is acked or stored here: losing this state only costs a "pending".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from nats.aio.client import Client

from bus import subjects
from projections.tracking import Batch
from schemas import DeadLettered, DecodeError, decode

log = logging.getLogger("tessera.gateway.outcomes")


@dataclass(frozen=True)
class Applied:
    seq: int


@dataclass(frozen=True)
class Handled:
    """Handled by the control plane without events (nothing to change)."""


@dataclass(frozen=True)
class Rejected:
    reason: str


@dataclass(frozen=True)
class Pending:
    pass


Outcome = Applied | Handled | Rejected | Pending


class Outcomes:
    name = "gateway.outcomes"

    def __init__(self, aggregates: frozenset[str] | None = None, *, remember: int = 50_000, settle: float = 0.25,
                 poll: float = 0.2) -> None:
        self.aggregates = aggregates
        self.remember = remember
        self.settle = settle
        self.poll = poll
        self.head: Callable[[], int] = lambda: self._position  # the read side's position (set by the runtime)
        self._position = 0
        self._waiters: dict[str, list[asyncio.Future]] = {}
        self._sent: dict[asyncio.Future, tuple[int, float]] = {}  # waiter -> (CMD seq, sent at)
        self._applied: OrderedDict[str, int] = OrderedDict()  # causation id -> seq (recent)
        self._sub = None
        self._nc: Client | None = None
        self._durable = ""
        self._poller: asyncio.Task | None = None
        self._wake = asyncio.Event()

    # --- the projection side ---------------------------------------------------------------------------

    def position(self) -> int:
        return self._position

    def reset(self) -> None:
        self._position = 0
        self._applied.clear()

    def apply_batch(self, batch: Batch) -> int:
        applied = 0
        for env, seq in batch:
            if seq <= self._position:
                continue
            self._position = seq
            applied += 1
            cause = env.causationid
            if cause is None:
                continue
            if cause not in self._applied:
                self._applied[cause] = seq
                if len(self._applied) > self.remember:
                    self._applied.popitem(last=False)
            self._resolve(cause, Applied(seq))
        return applied

    # --- the dead-letter side and the ack-floor poller ---------------------------------------------------

    async def listen(self, nc: Client, durable: str) -> None:
        self._nc, self._durable = nc, durable
        self._sub = await nc.subscribe(subjects.dead_letter_subject("CMD", durable), cb=self._on_letter)
        self._poller = asyncio.create_task(self._poll_handled(), name="gateway-outcomes-poller")

    async def close(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
            self._sub = None

    async def _on_letter(self, msg) -> None:
        try:
            letter = decode(msg.data).data
        except DecodeError as exc:
            log.warning("undecodable dead letter on %s: %s", msg.subject, exc)
            return
        if isinstance(letter, DeadLettered):
            command_id = letter.original_headers.get("Nats-Msg-Id")
            if command_id:
                self._resolve(command_id, Rejected(letter.error))

    async def _poll_handled(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self._sent:
                self._wake.clear()
                await self._wake.wait()
            await asyncio.sleep(self.poll)
            now = loop.time()
            due = {f: seq for f, (seq, at) in self._sent.items() if now - at >= self.settle and not f.done()}
            if not due:
                continue
            try:
                await self._settle(due)
            except Exception as exc:  # the bus is busy or away: the waiters time out as "pending" instead
                log.debug("ack-floor poll failed: %s: %s", type(exc).__name__, exc)

    async def _settle(self, due: dict[asyncio.Future, int]) -> None:
        js = self._nc.jetstream()
        floor = (await js.consumer_info("CMD", self._durable)).ack_floor
        handled = [f for f, seq in due.items() if floor is not None and seq <= floor.stream_seq]
        if not handled:
            return
        head = (await js.stream_info("EVT")).state.last_seq  # every event of a handled command is below
        deadline = asyncio.get_running_loop().time() + 2.0
        while self.head() < head and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.01)
        if self.head() < head:
            return
        await asyncio.sleep(0.05)  # a dead letter published before the ack is in our callback queue by now
        for future in handled:
            if not future.done():
                future.set_result(Handled())

    # --- waiting ----------------------------------------------------------------------------------------

    def expect(self, command_id: str) -> asyncio.Future:
        future = asyncio.get_running_loop().create_future()
        seq = self._applied.get(command_id)
        if seq is not None:
            future.set_result(Applied(seq))
        else:
            self._waiters.setdefault(command_id, []).append(future)
        future.command_id = command_id  # type: ignore[attr-defined]
        return future

    def sent(self, future: asyncio.Future, seq: int) -> None:
        """The command is on CMD at `seq`: from now on the ack floor can tell that it was handled."""
        if not future.done():
            self._sent[future] = (seq, asyncio.get_running_loop().time())
            self._wake.set()

    def applied(self, command_id: str) -> bool:
        return command_id in self._applied

    async def wait(self, future: asyncio.Future, timeout: float) -> Outcome:
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout)
        except TimeoutError:
            return Pending()
        finally:
            self._forget(future)

    def _resolve(self, command_id: str, outcome: Outcome) -> None:
        for future in self._waiters.pop(command_id, ()):
            if not future.done():
                future.set_result(outcome)

    def _forget(self, future: asyncio.Future) -> None:
        self._sent.pop(future, None)
        command_id = getattr(future, "command_id", None)
        waiting = self._waiters.get(command_id, [])
        if future in waiting:
            waiting.remove(future)
            if not waiting:
                self._waiters.pop(command_id, None)
        if not future.done():
            future.cancel()
