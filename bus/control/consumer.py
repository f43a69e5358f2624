"""The command consumer, with each fetched batch handled concurrently and in order per aggregate.

`bus.consumer.Consumer` handles one command at a time; a command costs a load
and an append (two round trips), so one at a time caps the control plane at a
few hundred commands per second. `BatchConsumer` keeps every guarantee of
`Consumer` (ack after the effect is stored, nak with backoff, dead letters; the
same `_one` per message) and changes only the loop:

- the messages of one fetch are started together, in stream order. Each reaches
  `CommandHandler.handle`'s per-aggregate lock before any of them awaits I/O,
  and asyncio locks are FIFO, so commands for one aggregate are still decided in
  stream order; commands for different aggregates overlap;
- the next fetch waits for the whole batch (a barrier), so order per aggregate
  holds across batches too (a redelivered command can, as with any consumer,
  arrive after newer ones: the domains treat stale commands as no-ops or refuse them);
- `stop()` lets the batch in hand finish (handled and acked), fetches no more,
  and unsubscribes, so closing the connection is not held up by its inbox.
"""

from __future__ import annotations

import asyncio

from nats.errors import TimeoutError as NatsTimeout

from bus.consumer import Consumer


class BatchConsumer(Consumer):
    @classmethod
    def like(cls, consumer: Consumer) -> BatchConsumer:
        """The same spec, handler and decoder as `consumer` (e.g. from `bus.commands.command_consumer`)."""
        return cls(consumer.nc, consumer.spec, consumer.handler, decode=consumer.decode,
                   fetch_timeout=consumer.fetch_timeout)

    async def run(self) -> None:
        await self.ensure()
        js = self.nc.jetstream()
        self._stopped.clear()
        self._sub = await js.pull_subscribe_bind(
            durable=self.spec.durable, stream=self.spec.stream, pending_msgs_limit=self.spec.batch * 4
        )
        try:
            while not self._stopping.is_set():
                try:
                    msgs = await self._sub.fetch(self.spec.batch, timeout=self.fetch_timeout)
                except (TimeoutError, NatsTimeout):
                    continue
                outcomes = await asyncio.gather(*(self._one(msg) for msg in msgs), return_exceptions=True)
                failures = [o for o in outcomes if isinstance(o, BaseException)]
                if failures:
                    raise failures[0]
        finally:
            if self.nc.is_connected:
                await self.nc.flush()
                await self._sub.unsubscribe()
            self._stopped.set()
