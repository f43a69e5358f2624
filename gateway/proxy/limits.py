"""Per-key rate limits and budgets that hold across every proxy replica: reserve first, settle after.

Where the counts live: JetStream KV, shared by all proxies.
- `tessera_limits` (max_age 180 s): key `rate.<key_id>.<minute>` (minute = unix
  time // 60, a fixed window) -> {"r": requests, "t": tokens} of that minute.
- `tessera_spend` (no expiry): key `spend.<key_id>` -> {"spent": "<decimal>"},
  what the key's requests cost so far, reservations in flight included.

No check-then-increment race: every change is a compare-and-set
(`kv.update(key, value, last=revision)`; `create` for a new key). Two proxies
that read the same revision cannot both write: the loser's write fails with
"wrong last sequence", it re-reads and decides again, so an admission is
always checked against the count it increments. Within one proxy the
changes to one counter are group-committed (kvcombine.py): every request
waiting on a key's window is decided in arrival order against the same read
and written in one CAS, and the proxy writes against the revision it last
wrote without re-reading while no other proxy intervenes. Same guarantees,
one KV round trip per batch instead of two per request.

Not done, on purpose: local leases (taking a block of a window from the KV
and spending it locally) would cut the round trips further, but a proxy would
then hold allowance another proxy needs, and "exactly rpm requests pass across
all proxies" (tests/integration/test_proxy_limits.py) would no longer hold.

`reserve(principal, tokens, price)`, before the request goes upstream:
- rpm: r + 1 <= rpm, else RateLimited (Retry-After: seconds to the next minute);
- tpm: t + tokens <= tpm, else RateLimited. `tokens` = prompt estimate +
  max_tokens (or the proxy's default), clamped to tpm so one large request
  can still pass in an empty window;
- budget: spent + tokens x price <= budget, else OverBudget (402). A key with
  a hard budget can only call models that have a price on the rate card. A
  soft budget (`budget_mode` "soft") is counted the same way but never
  refuses: it only alerts; its calls to unpriced models are served, uncounted.
Then r+1, t+tokens and spent+cost are written (rpm/tpm first; if the budget
refuses, the window's reservation is given back).
`settle(reservation, actual_tokens)` after the request: t and spent move by
(actual - reserved), so the counts end at what the engine reported; it
returns the key's spend counter as this request left it (None: no budget),
for the budget alerts (alerts.py).

Trade-offs, stated: the window is fixed (a burst at a minute boundary can see
2x the rate across two windows); a proxy that dies between reserve and settle
leaves its reservation counted (the limit errs toward refusing, never toward
overspending); the spend counter is for enforcement, billing reads USAGE.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig
from nats.js.errors import BucketNotFoundError
from nats.js.kv import KeyValue

from domains.identity import KeyPrincipal
from gateway.proxy.errors import OverBudget, RateLimited
from gateway.proxy.kvcombine import Combiner

RATE_BUCKET = "tessera_limits"
SPEND_BUCKET = "tessera_spend"
WINDOW_S = 60


@dataclass
class Reservation:
    key_id: str
    window: str | None  # the rate key charged (None: the key has no rpm/tpm)
    tokens: int
    price: Decimal | None  # per 1,000 tokens, when the key has a budget
    cost: Decimal
    spent: Decimal | None = None  # the key's spend counter after the reservation (budget keys)


class Limits:
    def __init__(self, rates: KeyValue, spend: KeyValue, *, clock: Callable[[], float] = time.time) -> None:
        self.rates = Combiner(rates)
        self.spend = Combiner(spend)
        self.clock = clock

    async def reserve(self, p: KeyPrincipal, tokens: int, price: Decimal | None, model: str) -> Reservation:
        if p.rpm is None and p.tpm is None and p.budget is None:
            return Reservation(p.key_id, None, tokens, None, Decimal(0))
        if p.tpm is not None:
            tokens = min(tokens, p.tpm)
        hard = p.budget_mode == "hard"
        if p.budget is not None and price is None and hard:
            raise OverBudget(f"model {model!r} has no price on the rate card, and this key has a budget: "
                             "it can only call priced models", param="model")
        window = None
        if p.rpm is not None or p.tpm is not None:
            now = self.clock()
            window = f"rate.{p.key_id}.{int(now // WINDOW_S)}"
            retry = str(max(1, math.ceil(WINDOW_S - now % WINDOW_S)))

            def admit(c: dict) -> dict:
                if p.rpm is not None and c.get("r", 0) + 1 > p.rpm:
                    raise RateLimited(f"rate limit reached for requests: {p.rpm} per minute; "
                                      f"retry in {retry} s", headers={"Retry-After": retry})
                if p.tpm is not None and c.get("t", 0) + tokens > p.tpm:
                    raise RateLimited(f"rate limit reached for tokens: {p.tpm} per minute, this request "
                                      f"reserves {tokens}; retry in {retry} s", headers={"Retry-After": retry})
                return {"r": c.get("r", 0) + 1, "t": c.get("t", 0) + tokens}

            await self.rates.change(window, admit)
        cost = Decimal(0)
        if p.budget is not None and price is not None:
            cost = price * tokens / 1000
            budget = p.budget

            def spend(c: dict) -> dict:
                spent = Decimal(c.get("spent", "0"))
                if hard and spent + cost > budget:
                    raise OverBudget(f"budget exceeded: this key has spent {spent} of its {budget}, and this "
                                     f"request may cost up to {cost} ({tokens} tokens); lower max_tokens "
                                     "or raise the budget")
                return {"spent": str(spent + cost)}

            try:
                written = await self.spend.change(f"spend.{p.key_id}", spend)
            except OverBudget:
                if window is not None:  # give the window's reservation back
                    await self.rates.change(window, lambda c: {"r": max(0, c.get("r", 0) - 1),
                                                               "t": max(0, c.get("t", 0) - tokens)})
                raise
            return Reservation(p.key_id, window, tokens, price, cost, Decimal(written["spent"]))
        return Reservation(p.key_id, window, tokens, None, cost)

    async def settle(self, r: Reservation, actual_tokens: int) -> Decimal | None:
        delta = actual_tokens - r.tokens
        if delta == 0:
            return r.spent
        if r.window is not None:
            await self.rates.change(r.window, lambda c: {"r": c.get("r", 0), "t": max(0, c.get("t", 0) + delta)})
        if r.price is None:
            return None
        actual_cost = r.price * actual_tokens / 1000
        written = await self.spend.change(f"spend.{r.key_id}", lambda c: {
            "spent": str(max(Decimal(0), Decimal(c.get("spent", "0")) - r.cost + actual_cost))})
        return Decimal(written["spent"])

    async def spent(self, key_id: str) -> Decimal:
        current = await self.spend.read(f"spend.{key_id}")
        return Decimal(current.get("spent", "0"))

    async def window(self, key_id: str) -> dict:
        current = await self.rates.read(f"rate.{key_id}.{int(self.clock() // WINDOW_S)}")
        return {"r": current.get("r", 0), "t": current.get("t", 0)}


async def open_limits(js: JetStreamContext, *, clock: Callable[[], float] | None = None) -> Limits:
    return Limits(await _bucket(js, RATE_BUCKET, ttl=3 * WINDOW_S), await _bucket(js, SPEND_BUCKET, ttl=None),
                  clock=clock or time.time)


async def _bucket(js: JetStreamContext, name: str, *, ttl: float | None) -> KeyValue:
    try:
        return await js.key_value(name)
    except BucketNotFoundError:
        return await js.create_key_value(KeyValueConfig(bucket=name, history=1, ttl=ttl))
