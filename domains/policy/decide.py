"""Decisions of the `quota` aggregate: `decide(state, command, *, now) -> list[Event]`.

Guarantees: pure; a `SetQuota` whose limits equal the current ones decides
nothing (a redelivered command appends no duplicate event); a command for
another tenant than the aggregate's is refused, never applied to the wrong
tenant.
"""

from __future__ import annotations

from datetime import datetime
from functools import singledispatch

from domains.policy.errors import WrongQuotaTenant
from domains.policy.state import QuotaState
from schemas.base import Command, Event
from schemas.policy import QuotaSet, SetQuota


@singledispatch
def _decide(command: Command, state: QuotaState, now: datetime) -> list[Event]:
    raise TypeError(f"the quota aggregate does not handle {type(command).__name__}")


def decide(state: QuotaState, command: Command, *, now: datetime) -> list[Event]:
    return _decide(command, state, now)


@_decide.register
def _(command: SetQuota, state: QuotaState, now: datetime) -> list[Event]:
    if command.tenant != state.tenant:
        raise WrongQuotaTenant(
            f"tenant: SetQuota for {command.tenant!r} sent to the quota of {state.tenant!r}",
            field="tenant",
        )
    if command.limits == state.limits:
        return []
    return [QuotaSet(tenant=command.tenant, limits=command.limits)]
