"""What the billing consumer knows, rebuilt from EVT: invoices, seen record ids, accounts, budgets, rate cards.

`BillingView.sync(nc)` reads the billing aggregates (`invoice`, `billing`,
`budget` of every tenant) and the platform's rate cards from EVT, from the
last sequence it synced up to the head of EVT as read before the reads (so a
message landing meanwhile is read next time, never skipped). `apply(env)` is
idempotent per aggregate: an event at or below the version already applied
is ignored, so the consumer applies its own writes at once and the next sync
reading them back changes nothing.

`seen(tenant, record_id)`: every usage record id on any invoice of the tenant
(accrued or unrated). It is a function of the same events the tracking
position was written with (one atomic batch), so view and position agree.
"""

from __future__ import annotations

from collections import defaultdict

from bus import direct
from bus.eventstore import layout
from domains.billing import account as acc
from domains.billing.invoice import InvoiceState, evolve
from schemas import PLATFORM_TENANT, DecodeError, Envelope, decode
from schemas.billing import (
    BudgetThresholdCrossed,
    InvoiceOpened,
    InvoiceUsageAccrued,
    InvoiceUsageUnrated,
)
from schemas.metering import RateCardPublished

FILTERS = ("evt.*.invoice.>", "evt.*.billing.>", "evt.*.budget.>", f"evt.{PLATFORM_TENANT}.ratecard.>")


class BillingView:
    def __init__(self) -> None:
        self.evt_seq = 0
        self.versions: dict[tuple[str, str, str], int] = {}
        self.invoices: dict[str, dict[str, InvoiceState]] = defaultdict(dict)  # tenant -> period -> state
        self.periods: dict[tuple[str, str], str] = {}  # (tenant, invoice id) -> period key
        self.seen_ids: dict[str, set[str]] = defaultdict(set)
        self.accounts: dict[str, acc.AccountState] = {}
        self.announced: dict[tuple[str, str], set[tuple[int, int]]] = defaultdict(set)  # (tenant, period)
        self.cards: list[RateCardPublished] = []

    def version(self, tenant: str, aggregate: str, aggregate_id: str) -> int:
        return self.versions.get((tenant, aggregate, aggregate_id), 0)

    def seen(self, tenant: str, record_id: str) -> bool:
        return record_id in self.seen_ids.get(tenant, ())

    def invoices_of(self, tenant: str) -> dict[str, InvoiceState]:
        return self.invoices.get(tenant, {})

    def account(self, tenant: str) -> acc.AccountState:
        return self.accounts.get(tenant) or acc.AccountState(tenant=tenant)

    def apply(self, env: Envelope) -> None:
        key = (env.tenant, env.aggregate, env.aggregateid)
        if env.version is None or env.version <= self.versions.get(key, 0):
            return
        self.versions[key] = env.version
        event = env.data
        if env.aggregate == "invoice":
            if isinstance(event, InvoiceOpened):
                self.periods[(env.tenant, env.aggregateid)] = event.period
            period = self.periods.get((env.tenant, env.aggregateid))
            if period is None:
                return
            tenant_invoices = self.invoices[env.tenant]
            tenant_invoices[period] = evolve(tenant_invoices.get(period, InvoiceState()), event)
            if isinstance(event, (InvoiceUsageAccrued, InvoiceUsageUnrated)):
                self.seen_ids[env.tenant].update(u.record_id for u in event.usage)
        elif env.aggregate == "billing":
            self.accounts[env.tenant] = acc.evolve_envelope(self.account(env.tenant), env)
        elif env.aggregate == "budget" and isinstance(event, BudgetThresholdCrossed):
            self.announced[(env.tenant, event.period)].add((event.budget_revision, event.threshold))
        elif env.aggregate == "ratecard" and isinstance(event, RateCardPublished):
            self.cards.append(event)

    async def sync(self, nc) -> int:
        """Apply what EVT holds beyond the last sync; returns the number of messages read."""
        head = await direct.last_for(nc, "EVT", ">")
        if head is None or head.seq <= self.evt_seq:
            return 0
        found = []
        for subject in FILTERS:
            msgs = await direct.read_subject(nc, "EVT", subject, start_seq=self.evt_seq + 1)
            found.extend(m for m in msgs if m.seq <= head.seq)
        for msg in sorted(found, key=lambda m: m.seq):
            try:
                self.apply(decode(msg.data))
            except DecodeError:  # a type this process does not know: keep its version for the next append
                parts = msg.subject.split(".")
                if len(parts) == 5 and layout.H_VERSION in msg.headers:
                    key = (parts[1], parts[2], parts[3])
                    self.versions[key] = max(self.versions.get(key, 0), layout.version_of(msg))
        self.evt_seq = head.seq
        return len(found)
