"""Commands on the CMD stream: sending them, and the durable consumer that handles them.

Ack semantics (see bus.consumer): a command is acked once its events are
stored (or it was found already applied). A `DomainError` or an unknown
command is permanent: dead-lettered at once with `<code> at <field>: <message>`.
Anything else (a lost connection, conflicts exhausted) is retried with backoff.
"""

from __future__ import annotations

from bus import subjects
from bus.consumer import Consumer, ConsumerSpec, Delivery, Permanent
from bus.handler import CommandHandler, UnknownCommand
from bus.publish import Ack, OutMsg, Publisher
from domains.errors import DomainError
from schemas import Envelope, decode, encode


async def send(publisher: Publisher, command: Envelope) -> Ack:
    """Record an accepted command on CMD; its id is its `Nats-Msg-Id`."""
    if command.is_event:
        raise ValueError("send() takes a command envelope")
    return await publisher.publish(OutMsg(subjects.subject_for(command), encode(command), command.id))


def command_consumer(nc, handler: CommandHandler, *, durable: str, filter_subjects: tuple[str, ...] = ("cmd.>",),
                     concurrent: bool = False, **spec) -> Consumer:
    """`concurrent`: decide a fetched batch together (in order per aggregate: the handler's lock is FIFO)."""
    async def on_command(delivery: Delivery) -> None:
        command: Envelope = delivery.value
        if command.is_event:
            raise Permanent("an event was published on the command stream")
        try:
            await handler.handle(command)
        except DomainError as exc:
            raise Permanent(f"{exc.code} at {exc.field or '$'}: {exc.message}") from exc
        except UnknownCommand as exc:
            raise Permanent(str(exc)) from exc

    if concurrent:
        spec.setdefault("batch", 500)  # a fetch is decided together: more per fetch, fewer barriers
    return Consumer(nc, ConsumerSpec(stream="CMD", durable=durable, filter_subjects=filter_subjects, **spec),
                    on_command, decode=decode, concurrent=concurrent)
