"""The billing consumer: USAGE -> invoices, exactly once (the process-recorder pattern).

Reads USAGE in stream order (`usage.>`: GPU `UsageRecorded` and inference
`InferenceRequestRecorded`) in batches of `batch` messages from its position,
plans the invoice events of the batch with `domains.billing.Planner` and
writes them together with the tracking record `trk.<name>` = the batch's last
USAGE sequence as ONE atomic batch on EVT (`EventLog.insert(events,
tracking)`): the effect and the position are stored together or not at all.

Exactly once, and why:
- redelivery / replay / restart: the position is read back from `trk.<name>`
  at start; a batch at or below it is never planned again. A crash before the
  write leaves neither effect nor position; after it, both.
- duplicate records (the same record id at another USAGE sequence, also past
  JetStream's duplicate window): the view's record ids per tenant (folded from
  the same atomic writes) make the planner skip them.
- another consumer or a concurrent void: every aggregate written and the
  tracking subject carry an expected-last-sequence; losing the race is an
  `IntegrityError`: the view is synced again, the position re-read, the batch
  re-planned (or skipped if the other consumer already billed it).
- an outcome that stays unknown (`WriteOutcomeUnknown`) or any other error
  ends `run`'s inner loop; it restarts with a fresh view after `restart_delay`.

Malformed USAGE messages (undecodable, or a tenant differing from the
envelope's) go to `dlq.USAGE.<name>` as `DeadLettered` (deterministic id)
before the batch's write, then the position moves past them.

The timer (`tick(now)`, every `tick_s`): finalizes every draft invoice whose
period ended `grace_s` ago (`InvoiceFinalized` with priced lines, credits and
totals) and re-checks budgets (a budget set or lowered mid-period). Budget
crossings are also checked for each draft a batch touched, in the same write.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
from datetime import timedelta

from eventsourcing.persistence import IntegrityError, Tracking

from bus import direct, subjects
from bus.billing.settings import BillingSettings
from bus.billing.view import BillingView
from bus.eventstore.config import StoreConfig
from bus.eventstore.mapper import EnvelopeMapper
from bus.eventstore.store import EventLog
from bus.publish import OutMsg, Publisher
from domains.billing import (
    Planner,
    consumed,
    crossings,
    finalize,
    invoice_id,
    totals,
    usage_item,
)
from schemas import PLATFORM_TENANT, DecodeError, Envelope, decode, derived_id, encode
from schemas.base import Event
from schemas.system import DeadLettered

log = logging.getLogger("tessera.billing")
RETRIES = 20


class BillingConsumer:
    def __init__(self, nc, settings: BillingSettings | None = None, config: StoreConfig | None = None) -> None:
        self.nc = nc
        self.settings = settings or BillingSettings()
        self.config = config or StoreConfig()
        self.log = EventLog(nc, self.config)
        self.mapper = EnvelopeMapper()
        self.dlq = Publisher(nc, stream="DLQ")
        self.view = BillingView()
        self.position = 0
        self._started = False
        self.billed = self.duplicates = self.dead_lettered = 0

    async def start(self) -> None:
        self.view = BillingView()
        self.position = await self.log.max_tracking_id(self.settings.name) or 0
        await self.view.sync(self.nc)
        self._started = True

    async def step(self) -> int:
        """Bill the next batch after the position; returns the USAGE messages it covered (0: none new)."""
        if not self._started:
            await self.start()
        msgs = await direct.read_subject(self.nc, "USAGE", "usage.>", start_seq=self.position + 1,
                                         limit=self.settings.batch)
        if not msgs:
            return 0
        covered = len(msgs)
        for _ in range(RETRIES):
            try:
                await self._bill(msgs)
                return covered
            except IntegrityError as exc:  # someone else wrote first: catch up and decide again
                log.info("billing: lost a race (%s); re-reading", exc)
                await self.view.sync(self.nc)
                self.position = max(self.position, await self.log.max_tracking_id(self.settings.name) or 0)
                msgs = [m for m in msgs if m.seq > self.position]
                if not msgs:
                    return covered  # the other writer billed them
        raise IntegrityError(f"billing: gave up after {RETRIES} conflicts")

    async def catch_up(self) -> int:
        total = 0
        while n := await self.step():
            total += n
        return total

    async def run(self, stop: asyncio.Event) -> None:
        """Bill until `stop` is set; restarts itself (fresh view) after an error."""
        while not stop.is_set():
            try:
                await self.start()
                ticked = 0.0
                loop = asyncio.get_running_loop()
                while not stop.is_set():
                    handled = await self.step()
                    if loop.time() - ticked >= self.settings.tick_s:
                        await self.tick(self.settings.clock())
                        ticked = loop.time()
                    if not handled:
                        with contextlib.suppress(asyncio.TimeoutError):
                            await asyncio.wait_for(stop.wait(), self.settings.poll_s)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("billing: consumer failed; restarting from the log in %ss",
                              self.settings.restart_delay)
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.settings.restart_delay)

    # --- one batch ------------------------------------------------------------------------------------

    async def _bill(self, msgs) -> None:
        await self.view.sync(self.nc)
        planner = Planner(self.view.invoices_of, self.view.seen, self.view.cards, self.settings.period)
        dead, added, dup = [], 0, 0
        for msg in msgs:
            try:
                env = decode(msg.data)
            except DecodeError as exc:
                dead.append((msg, f"undecodable: {exc}"))
                continue
            item = usage_item(env.data, msg.seq)
            if item is None:
                continue  # nothing billable (a request without tokens, another usage type)
            if item.tenant != env.tenant or msg.subject.split(".")[1] != env.tenant:
                dead.append((msg, f"tenant: payload {item.tenant!r}, envelope {env.tenant!r}, subject {msg.subject}"))
                continue
            if planner.add(item):
                added += 1
            else:
                dup += 1
        now = self.settings.clock()
        envs = self._envelopes(planner.events(), now)
        envs += self._envelopes(self._budget_events(planner.states), now)
        if len(envs) + 1 > self.config.max_batch and len(msgs) > 1:
            half = len(msgs) // 2  # too many events for one atomic write: bill it in two
            await self._bill(msgs[:half])
            await self._bill(msgs[half:])
            return
        for msg, reason in dead:
            await self._dead_letter(msg, reason)
        await self._write(envs, Tracking(self.settings.name, msgs[-1].seq))
        self.position = msgs[-1].seq
        self.billed += added
        self.duplicates += dup
        self.dead_lettered += len(dead)

    def _budget_events(self, states) -> dict[tuple[str, str, str], list[Event]]:
        out: dict[tuple[str, str, str], list[Event]] = {}
        for (tenant, period), state in states.items():
            if state.status != "draft":
                continue
            account = self.view.account(tenant)
            if account.budget is None:
                continue
            money = totals(state, account, consumed(self.view.invoices_of(tenant).values()))
            events = crossings(account, period=period, spent=money.total, currency=state.opened.currency,
                               announced=self.view.announced.get((tenant, period), set()))
            if events:
                out[(tenant, "budget", period)] = events
        return out

    # --- the timer ------------------------------------------------------------------------------------

    async def tick(self, now) -> int:
        """Finalize drafts past period end + grace, re-check budgets; returns the invoices finalized."""
        for _ in range(RETRIES):
            await self.view.sync(self.nc)
            grace = timedelta(seconds=self.settings.grace_s)
            planned: dict[tuple[str, str, str], list[Event]] = {}
            drafts = {}
            for tenant, invoices in list(self.view.invoices.items()):
                used = consumed(invoices.values())
                for period, state in invoices.items():
                    if state.status != "draft":
                        continue
                    if now >= state.opened.period_end + grace:
                        money = totals(state, self.view.account(tenant), used)
                        planned[(tenant, "invoice", invoice_id(period))] = finalize(state, money, now=now)
                    else:
                        drafts[(tenant, period)] = state
            planned.update(self._budget_events(drafts))
            try:
                await self._write(self._envelopes(planned, now), None)
                return sum(1 for key in planned if key[1] == "invoice")
            except IntegrityError:
                continue
        raise IntegrityError(f"billing tick: gave up after {RETRIES} conflicts")

    # --- writing --------------------------------------------------------------------------------------

    def _envelopes(self, planned: dict, now) -> list[Envelope]:
        out = []
        for key, events in planned.items():
            if len(key) == 2:  # (tenant, period): an invoice from the planner
                tenant, aggregate, agg_id = key[0], "invoice", invoice_id(key[1])
            else:
                tenant, aggregate, agg_id = key
            base = self.view.version(tenant, aggregate, agg_id)
            for i, event in enumerate(events, start=1):
                ident = derived_id("billing", tenant, aggregate, agg_id, base + i)
                out.append(Envelope(specversion="1.0", id=ident, source="/tessera/billing", type=event.TYPE,
                                    time=now, tenant=tenant, actor=f"consumer:{self.settings.name}",
                                    correlationid=f"{tenant}.{aggregate}.{agg_id}", data=event,
                                    aggregate=aggregate, aggregateid=agg_id, version=base + i))
        return out

    async def _write(self, envs: list[Envelope], tracking: Tracking | None) -> None:
        if not envs and tracking is None:
            return
        await self.log.insert([self.mapper.to_stored_event(e) for e in envs], tracking)
        for env in envs:
            self.view.apply(env)

    async def _dead_letter(self, msg, reason: str) -> None:
        letter = DeadLettered(stream="USAGE", subject=msg.subject, stream_sequence=msg.seq, delivered=1,
                              error=reason[:4000], consumer=self.settings.name, original_headers=dict(msg.headers),
                              original_data_b64=base64.b64encode(msg.data).decode())
        ident = derived_id("dlq", "USAGE", self.settings.name, msg.seq)
        env = Envelope(specversion="1.0", id=ident, source=f"/tessera/billing/{self.settings.name}",
                       type=DeadLettered.TYPE, time=self.settings.clock(), tenant=PLATFORM_TENANT,
                       actor=f"consumer:{self.settings.name}", correlationid=ident, aggregate="dead_letter",
                       aggregateid=ident, version=1, data=letter)
        await self.dlq.publish(OutMsg(subjects.dead_letter_subject("USAGE", self.settings.name), encode(env), ident))
