"""Command handling: load the aggregate, decide, append the events, retry on conflict.

One `Decider` per aggregate type binds a pure domain (`initial`, `evolve`,
`decide`) to the commands it handles and to how a command names its
aggregate. `CommandHandler.handle(envelope)`:

1. loads the aggregate's events (only its own subjects),
2. returns [] if an event of this aggregate was already caused by this command
   id — a command redelivered after JetStream's duplicate window must still
   apply once (RELIABILITY T9), so idempotency lives in the aggregate;
3. folds the events into state and calls `decide(state, command, now=...)`;
4. appends the decision's events (ids derived from the command id and index,
   versions following the head) as one atomic write, expecting the head it
   loaded; on `AggregateConflict` it reloads and decides again (bounded).

Fast path, same guarantees: step 1 uses the store's cache of aggregates it
loaded or appended recently (`AggregateStore.cached`), and an aggregate not in
the cache is first tried as a new one (no read: `SubmitJob` creates its job).
Both are guesses the write checks: the append expects the head the guess
assumed (none, for a new aggregate), so a stale or wrong guess is an
`AggregateConflict` and the next attempt loads for real; a guess the domain
refuses (any error, or nothing to do) is never reported but decided again on
the stored events. The idempotency check of step 2 then sees the real events.

Within one process, commands for the same aggregate are decided one at a time
(a lock per aggregate), so conflicts only come from other processes.

A `DomainError` from `decide` propagates unchanged: the consumer dead-letters
the command with that reason and the gateway answers 4xx.
"""

from __future__ import annotations

import asyncio
import functools
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from bus.aggregates import AggregateConflict, AggregateStore, Loaded
from schemas import Command, Envelope, Event

S = TypeVar("S")


@dataclass(frozen=True)
class Decider(Generic[S]):
    aggregate: str
    initial: S
    evolve: Callable[[S, Event], S]
    decide: Callable[..., list[Event]]  # decide(state, command, *, now) -> events
    commands: tuple[type[Command], ...]
    aggregate_id: Callable[[Command], str]
    # Optional: fold whole envelopes instead of `evolve(state, env.data)`, for state that needs the
    # envelope's time or causation (e.g. since when a job runs); `evolve` is then unused by `fold`.
    evolve_envelope: Callable[[S, Envelope], S] | None = None

    def fold(self, events: Sequence[Envelope]) -> S:
        if self.evolve_envelope is not None:
            return functools.reduce(self.evolve_envelope, events, self.initial)
        return functools.reduce(lambda state, env: self.evolve(state, env.data), events, self.initial)


class UnknownCommand(LookupError):
    pass


class ConflictsExhausted(RuntimeError):
    """Every attempt lost the race: a hot aggregate. Redelivery retries later."""


class CommandHandler:
    def __init__(self, store: AggregateStore, deciders: Sequence[Decider[Any]], *,
                 clock: Callable[[], datetime], attempts: int = 10) -> None:
        self.store = store
        self.clock = clock
        self.attempts = attempts
        self._by_command: dict[type[Command], Decider[Any]] = {}
        self._locks: dict[tuple[str, str, str], asyncio.Lock] = {}
        for decider in deciders:
            for command in decider.commands:
                if command in self._by_command:
                    raise ValueError(f"{command.TYPE} is handled by two deciders")
                self._by_command[command] = decider

    async def handle(self, command: Envelope) -> list[Envelope]:
        decider = self._by_command.get(type(command.data))
        if decider is None:
            raise UnknownCommand(f"no handler for {command.type}")
        aggregate_id = decider.aggregate_id(command.data)
        key = (command.tenant, decider.aggregate, aggregate_id)
        lock = self._locks.setdefault(key, asyncio.Lock())
        try:
            async with lock:  # one decision at a time per aggregate in this process
                return await self._decide_and_append(decider, aggregate_id, command)
        finally:
            if not lock.locked() and self._locks.get(key) is lock:
                del self._locks[key]

    async def _decide_and_append(self, decider: Decider[Any], aggregate_id: str, command: Envelope) -> list[Envelope]:
        key = (command.tenant, decider.aggregate, aggregate_id)
        for attempt in range(self.attempts):
            loaded = self.store.cached(*key) if attempt == 0 else None
            guess = loaded is None and attempt == 0  # not cached: try it as a new aggregate first
            if guess:
                loaded = Loaded([])
            elif loaded is None:
                loaded = await self.store.load(*key)
            if any(event.causationid == command.id for event in loaded.events):
                return []
            now = self.clock()
            try:
                decided = decider.decide(decider.fold(loaded.events), command.data, now=now)
            except Exception:
                if guess:  # refused as a new aggregate: decide on what is really stored
                    continue
                raise
            if not decided:
                if guess:
                    continue
                return []
            envelopes = [
                Envelope.for_event(event, cause=command, index=index, aggregate=decider.aggregate,
                                   aggregateid=aggregate_id, version=loaded.version + index + 1, time=now)
                for index, event in enumerate(decided)
            ]
            try:
                await self.store.append(envelopes)
            except AggregateConflict:
                if not guess:  # another process decided first: back off a little (jittered) so retries spread out
                    await asyncio.sleep(random.uniform(0, 0.005 * (attempt + 1)))
                continue
            return envelopes
        raise ConflictsExhausted(f"{decider.aggregate} {aggregate_id}: {self.attempts} conflicting attempts")
