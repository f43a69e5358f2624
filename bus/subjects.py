"""The one place that maps messages to NATS subjects.

Streams and their subject spaces (DESIGN.md, "The log"):

    CMD    cmd.<tenant>.<domain>.<name>
    EVT    evt.<tenant>.<aggregate>.<id>.<event>
    USAGE  usage.<tenant>.<source>
    LOG    log.<tenant>.<job>.<task>
    DLQ    dlq.<stream>.<consumer>
    EXEC   exec.<cluster>.<tenant>.<job>

Guarantees: every subject built here has exactly the token count above, and no
token is empty or contains '.', whitespace, '*' or '>' — a stray dot would
silently shift an aggregate id into the event-name position and a wildcard
would turn a publish subject into a filter. Bad tokens raise ValueError naming
the token. Domain and event names come from the message `type`, never from
Python class names, so renaming a class does not move its subject.
"""

from __future__ import annotations

import re

from schemas.base import Command, Event, parse_type
from schemas.envelope import Envelope

STREAM_SUBJECTS: dict[str, str] = {
    "CMD": "cmd.>",
    "EVT": "evt.>",
    "USAGE": "usage.>",
    "LOG": "log.>",
    "EXEC": "exec.>",
}
DLQ_STREAM = "DLQ"
DLQ_SUBJECTS = "dlq.>"

# Aggregate ids are uuids or slugs; both fit this, as do tenants like `_platform`.
_TOKEN = re.compile(r"[A-Za-z0-9_-]+")


def token(value: str, what: str = "token") -> str:
    """Return `value` if it is a safe single subject token, else raise ValueError."""
    if not isinstance(value, str) or not _TOKEN.fullmatch(value):
        raise ValueError(
            f"invalid subject {what} {value!r}: must be non-empty [A-Za-z0-9_-] "
            "(no '.', spaces, '*' or '>')"
        )
    return value


def command_subject(tenant: str, type_str: str) -> str:
    domain, name, _ = parse_type(type_str)
    return f"cmd.{token(tenant, 'tenant')}.{domain}.{name}"


def event_subject(tenant: str, aggregate: str, aggregate_id: str, type_str: str) -> str:
    _, name, _ = parse_type(type_str)
    return f"{aggregate_subject_prefix(tenant, aggregate, aggregate_id)}.{name}"


def subject_for(env: Envelope) -> str:
    if isinstance(env.data, Command):
        return command_subject(env.tenant, env.type)
    if isinstance(env.data, Event):
        # The envelope guarantees these are set for events.
        assert env.aggregate is not None and env.aggregateid is not None
        return event_subject(env.tenant, env.aggregate, env.aggregateid, env.type)
    raise TypeError(f"no subject for payload {type(env.data).__name__}")


def aggregate_subject_prefix(tenant: str, aggregate: str, aggregate_id: str) -> str:
    return (
        f"evt.{token(tenant, 'tenant')}.{token(aggregate, 'aggregate')}."
        f"{token(aggregate_id, 'aggregate id')}"
    )


def aggregate_subjects(tenant: str, aggregate: str, aggregate_id: str) -> str:
    """All events of one aggregate: the load filter and the OCC
    `Nats-Expected-Last-Subject-Sequence-Subject`."""
    return f"{aggregate_subject_prefix(tenant, aggregate, aggregate_id)}.*"


def usage_subject(tenant: str, source: str) -> str:
    return f"usage.{token(tenant, 'tenant')}.{token(source, 'usage source')}"


def log_subject(tenant: str, job: str, task: str) -> str:
    return f"log.{token(tenant, 'tenant')}.{token(job, 'job')}.{token(task, 'task')}"


def exec_subject(cluster: str, tenant: str, job: str) -> str:
    return f"exec.{token(cluster, 'cluster')}.{token(tenant, 'tenant')}.{token(job, 'job')}"


def exec_subjects(cluster: str) -> str:
    """Everything for one cluster's executor: its durable consumer's filter."""
    return f"exec.{token(cluster, 'cluster')}.>"


def dead_letter_subject(stream: str, consumer: str) -> str:
    return f"dlq.{token(stream, 'stream')}.{token(consumer, 'consumer')}"
