"""The audit converter, table-tested without a database: every event -> one row, secrets never in it."""

from __future__ import annotations

import orjson
import pytest

from domains.identity import tokens
from projections.clickhouse import audit_events
from projections.clickhouse.rows import batch_rows, rows_for
from projections.clickhouse.state import UsageState
from schemas import identity as i
from schemas import jobs as j
from tests.factories.identity import T0, token_issued
from tests.factories.identity import History as IdentityHistory
from tests.factories.projections import (
    History,
    at,
    cluster_onboarded,
    job_submitted,
    node_registered,
)

HASH = tokens.hash_secret("s" * tokens.SECRET_LENGTH)


def with_actor(item, actor: str):
    env, seq = item
    return env.model_copy(update={"actor": actor}), seq


@pytest.mark.parametrize("actor, who, credential", [
    ("user:acme/ann#tokABCDEF123", "user:acme/ann", "tokABCDEF123"),
    ("apikey:acme/key000000001", "apikey:acme/key000000001", "key000000001"),
    ("reactor:placer", "reactor:placer", ""),
    ("user:acme/ann", "user:acme/ann", ""),  # recorded before the gateway added the token
])
def test_the_actor_is_split_into_who_and_the_credential_used(actor, who, credential):
    assert audit_events.split_actor(actor) == (who, credential)


def test_a_job_event_row_carries_who_what_which_object_and_when():
    env, seq = with_actor(History().job(job_submitted("j1", gpus=2), "acme", at_s=1.000123), "user:acme/ann#tok1")
    [row] = audit_events.to_rows(env, seq)
    assert row[:10] == (seq, at(1.000123), "acme", "user:acme/ann", "tok1", "job", "j1",
                        "tessera.scheduling.job_submitted.v1", env.id, 1)
    assert row[10:12] == (env.causationid, env.correlationid)
    assert orjson.loads(row[12]) == orjson.loads(env.data.model_dump_json())


@pytest.mark.parametrize("event, secret", [
    (token_issued("tok000000001", "alice"), "token_hash"),
    (i.ApiKeyCreated(key_id="key000000001", name="ci", key_hash=HASH), "key_hash"),
    (i.PlatformBootstrapped(admin_user_id="root", token_id="boot00000001", token_hash=HASH, expires_at=T0),
     "token_hash"),
])
def test_token_and_key_hashes_are_never_stored(event, secret):
    [(env, seq)] = IdentityHistory()("acme", event)
    [row] = audit_events.to_rows(env, seq)
    assert HASH not in "".join(str(v) for v in row)
    data = orjson.loads(row[12])
    assert data[secret] == audit_events.REDACTED and data == {**env.data.model_dump(mode="json"), secret: "<redacted>"}


def test_every_aggregate_has_rows_in_a_batch_exactly_as_one_by_one():
    h = History()
    h.fleet(cluster_onboarded())
    h.fleet(node_registered("n1"))
    h.job(job_submitted("j1"))
    h.job(j.JobCancelled(job_id="j1", reason="user"))
    identity = IdentityHistory()
    identity.seq = len(h.events)
    events = h.events + identity("acme", token_issued())
    batch = batch_rows(events, UsageState())["audit_events"]
    single = [row for env, seq in events for row in rows_for(env, seq, UsageState())["audit_events"]]
    assert batch == single
    assert [(r[0], r[5]) for r in batch] == [(1, "cluster"), (2, "node"), (3, "job"), (4, "job"), (5, "token")]
