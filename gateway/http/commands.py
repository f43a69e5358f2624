"""Sending a command and answering with its outcome: the one path every write route takes.

`execute(services, caller, tenant, command, command_id)`:
1. registers a waiter for the command id (outcomes.py) before anything is sent;
2. sends the envelope on CMD (`bus.commands.send`: the command id is its
   Nats-Msg-Id, so a retried send is a duplicate, never a second command);
   the actor is the caller's principal and the token it used
   (`auth.credited`: "user:<tenant>/<user>#<token_id>"), the source this gateway;
3. waits up to `command_timeout` for the outcome: applied to this gateway's
   read models (-> the caller's next read sees it), handled without events
   (nothing to change: the current state is the answer), refused by the
   domain (-> the 4xx of errors.from_dead_letter), or unknown (-> "pending").
   A gateway that stops (`services.stopping` set) ends every wait at once
   with "pending": the command is on CMD and will be handled; only this
   answer is cut short (never uvicorn's "graceful shutdown exceeded").
A command already applied is not sent again: this replica remembers recent
ones, and for a keyed (Idempotency-Key) command on an existing object
`on=(tenant, aggregate, id)` has the object's log checked for the command's
first event id (`event_id(command, 0)`, its Nats-Msg-Id): a repeat answers
from the read model at once instead of waiting for events that never come.
A bus that cannot take the command answers 503 `bus_unavailable`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from pydantic import ValidationError

from bus.commands import send
from bus.read import load_aggregate
from gateway.http.errors import ApiError, from_dead_letter, from_validation
from gateway.http.outcomes import Applied, Outcome, Pending, Rejected
from gateway.http.services import Services
from schemas import Command, Envelope, event_id

log = logging.getLogger("tessera.gateway")
SOURCE = "/tessera/gateway"


def build(cls: type[Command], prefix: str = "", **fields: Any) -> Command:
    """The command, or 422 naming the field a value breaks (values the request model let through)."""
    try:
        return cls(**fields)
    except ValidationError as exc:
        raise from_validation(exc, prefix) from None


async def already_applied(services: Services, command_id: str, on: tuple[str, str, str]) -> bool:
    if services.outcomes.applied(command_id):
        return True
    first = event_id(command_id, 0)
    return any(m.msg_id == first for m in await load_aggregate(services.nc, *on))


async def execute(services: Services, actor: str, tenant: str, command: Command, command_id: str, *,
                  on: tuple[str, str, str] | None = None) -> Outcome:
    """`on`: (tenant, aggregate, id) of an existing object, for a keyed command (see above)."""
    outcomes = services.outcomes
    if on is not None and await already_applied(services, command_id, on):
        return Applied(0)
    waiter = outcomes.expect(command_id)
    if not waiter.done():
        envelope = Envelope.for_command(command, tenant=tenant, actor=actor, source=SOURCE, time=services.clock(),
                                        id=command_id)
        try:
            ack = await send(services.publisher, envelope)
        except Exception as exc:  # the bus's errors and nats-py's: either way nothing was recorded for sure
            await outcomes.wait(waiter, 0)
            log.warning("command %s not sent: %s: %s", command_id, type(exc).__name__, exc)
            raise ApiError("the command bus is unavailable; try again", code="bus_unavailable", status=503) from None
        outcomes.sent(waiter, ack.seq)
    outcome = await wait_unless_stopping(services, waiter)
    if isinstance(outcome, Rejected):
        raise from_dead_letter(outcome.reason)
    return outcome


async def wait_unless_stopping(services: Services, waiter: asyncio.Future) -> Outcome:
    """The command's outcome within `command_timeout`, or Pending as soon as the gateway stops."""
    outcomes, stopping = services.outcomes, services.stopping
    if stopping is None:
        return await outcomes.wait(waiter, services.settings.command_timeout)
    if stopping.is_set():
        return await outcomes.wait(waiter, 0)  # what is known already, else pending
    waiting = asyncio.ensure_future(outcomes.wait(waiter, services.settings.command_timeout))
    stopped = asyncio.ensure_future(stopping.wait())
    try:
        await asyncio.wait({waiting, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
        if not waiting.done():
            waiting.cancel()  # outcomes.wait forgets the waiter on its way out
            with contextlib.suppress(asyncio.CancelledError):
                await waiting
    if waiting.cancelled():
        return Pending()
    return waiting.result()


def accepted(id: str, status: str | None, link: str, outcome: Outcome | None = None) -> dict:
    if isinstance(outcome, Pending):
        status = "pending"
    return {"id": id, "status": status or "pending", "link": link}
