"""`audit_events`: one row per event of every aggregate: who did what to which object, and when.

Row: (seq, time, tenant, actor, credential, aggregate, aggregate_id, type,
event_id, version, causation, correlation, data). Straight from the envelope, no state:
- `actor` is who caused the event, `credential` the token or API key it used
  (`split_actor`): a gateway command's actor is "user:<tenant>/<user>#<token_id>"
  (gateway/http/auth.py), an inference client's "apikey:<tenant>/<key_id>";
  services ("reactor:...", "system:...") have no credential ("").
- `type` is the full wire type (`tessera.jobs.job_submitted.v1`), `time` the
  envelope's (UTC, microseconds), a missing causation "".
- `data` is the payload as JSON with every secret field replaced by
  "<redacted>": fields named `*_hash` (token and API key hashes) never reach
  this table, whatever the event.
"""

from __future__ import annotations

import orjson

from schemas import Envelope

REDACTED = "<redacted>"
_secret_fields: dict[type, tuple[str, ...]] = {}  # payload class -> its secret field names (most have none)


def split_actor(actor: str) -> tuple[str, str]:
    """(who, credential): "user:acme/ann#tok1" -> ("user:acme/ann", "tok1"); "apikey:acme/k1" -> (.., "k1")."""
    who, _, credential = actor.partition("#")
    if not credential and who.startswith("apikey:"):
        credential = who.rpartition("/")[2]
    return who, credential


def secret_fields(cls: type) -> tuple[str, ...]:
    found = _secret_fields.get(cls)
    if found is None:
        found = _secret_fields[cls] = tuple(n for n in getattr(cls, "model_fields", {}) if n.endswith("_hash"))
    return found


def data_json(payload) -> str:
    """The payload as JSON with its secret fields redacted."""
    secrets = secret_fields(type(payload))
    if not secrets:
        return payload.model_dump_json()
    data = payload.model_dump(mode="json")
    for name in secrets:
        if name in data:
            data[name] = REDACTED
    return orjson.dumps(data).decode()


def to_rows(env: Envelope, seq: int) -> list[tuple]:
    if env.aggregate is None:  # a command, not an event: not on EVT
        return []
    who, credential = split_actor(env.actor)
    return [(seq, env.time, env.tenant, who, credential, env.aggregate, env.aggregateid, env.type, env.id,
             env.version, env.causationid or "", env.correlationid, data_json(env.data))]
