"""An object's events straight from the log (EVT), for `/events`, `/audit` and `/watch`.

- `history(nc, tenant, aggregate, id)`: every event of one aggregate, in
  order, through Direct Get on its own subjects (bus.read.load_aggregate:
  cost proportional to the object, not the stream). Each event is shown with
  its time, type, actor, causation and data (views.event; secrets redacted).
- `live(nc, tenant, aggregate, id, until)`: the same events, then new ones as
  they are stored (an ordered consumer on the aggregate's subjects), ending
  after the first event for which `until(envelope)` is true (a terminal state).
- `first(nc, tenant, aggregate, id, event)`: the aggregate's first event of
  one type (the JobSubmitted carrying the spec), or None.
The caller checks the tenant first: these read whatever subject they are given.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from nats.aio.client import Client

from bus import direct, subjects
from bus.read import follow, load_aggregate
from gateway.http import views
from gateway.http.sse import Item
from schemas import DecodeError, Envelope, decode
from schemas.base import parse_type


async def history(nc: Client, tenant: str, aggregate: str, id: str) -> list[dict]:
    out = []
    for stored in await load_aggregate(nc, tenant, aggregate, id):
        try:
            out.append(views.event(decode(stored.data), stored.seq))
        except DecodeError:
            continue  # an event this version cannot read is not the caller's problem
    return out


async def live(nc: Client, tenant: str, aggregate: str, id: str,
               until: Callable[[Envelope], bool]) -> AsyncIterator[Item]:
    subject = subjects.aggregate_subjects(tenant, aggregate, id)
    async for stored in follow(nc, "EVT", subject=subject):
        try:
            env = decode(stored.data)
        except DecodeError:
            continue
        yield "event", views.event(env, stored.seq), stored.seq
        if until(env):
            return


async def first(nc: Client, tenant: str, aggregate: str, id: str, event_type: str) -> Envelope | None:
    name = parse_type(event_type)[1]
    subject = f"{subjects.aggregate_subject_prefix(tenant, aggregate, id)}.{name}"
    found = await direct.read_subject(nc, "EVT", subject, limit=1)
    return decode(found[0].data) if found else None
