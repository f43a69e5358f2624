"""Everything a route needs, passed in explicitly: the app factory takes one `Services`.

Built by the runtime (runtime.py) from live parts, or by a test from its own.
Nothing here is global: two apps in one process have two `Services`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from nats.aio.client import Client

from bus.publish import Publisher
from gateway.http.fleet import FleetView
from gateway.http.idempotency import IdempotencyKeys
from gateway.http.outcomes import Outcomes
from gateway.http.settings import GatewaySettings
from projections.registry import Registry


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Services:
    nc: Client
    settings: GatewaySettings
    registry: Registry
    identity: Any  # projections.identity.IdentityModel
    fleet: FleetView
    outcomes: Outcomes
    publisher: Publisher
    idempotency: IdempotencyKeys
    clickhouse: Any | None = None  # a clickhouse-connect client (adapters.clickhouse), or None: /v1/usage -> 503
    clickhouse_db: str = "tessera"
    billing: Any | None = None  # projections.billing.BillingModel, or None: /v1/invoices -> 503
    ratecards: Any | None = None  # projections.usage.RateCards, or None: /v1/usage/preview -> 503
    placement_policy: str = "binpack"
    clock: Callable[[], datetime] = field(default=utc_now)
    stopping: Any = None  # asyncio.Event set when the gateway stops (ends live streams)
