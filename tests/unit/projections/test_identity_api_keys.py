"""API keys in the identity read model: authenticate_key, views without hashes, rebuild equality."""

from __future__ import annotations

from decimal import Decimal

import pytest

from domains.identity import KeyPrincipal, keys
from projections.identity import IdentityModel
from schemas import identity as i
from tests.factories.identity import DAY, SECRET, T0, History, token_issued, token_str

KEY_ID = "key000000001"
KEY = keys.format_key(KEY_ID, SECRET)


def created(key_id: str = KEY_ID, **more) -> i.ApiKeyCreated:
    fields = {"name": "prod", "key_hash": keys.hash_secret(SECRET), "allowed_models": ["llama"],
              "expires_at": T0 + 30 * DAY, "rpm": 60, "tpm": 10_000, "budget": "25", **more}
    return i.ApiKeyCreated(key_id=key_id, **fields)


@pytest.fixture
def log() -> History:
    return History()


@pytest.fixture
def acme(log) -> IdentityModel:
    model = IdentityModel()
    model.apply_batch(log("acme", created()))
    return model


def test_a_valid_key_authenticates_with_its_tenant_scope_and_limits(acme):
    principal = acme.authenticate_key(KEY, T0)
    assert principal == KeyPrincipal(tenant="acme", key_id=KEY_ID, name="prod", allowed_models=frozenset({"llama"}),
                                     rpm=60, tpm=10_000, budget=Decimal(25), expires_at=T0 + 30 * DAY)
    assert principal.actor == "apikey:acme/key000000001"
    assert principal.allows("llama") and not principal.allows("mistral")


def test_a_key_for_every_model_allows_any(log):
    model = IdentityModel()
    model.apply_batch(log("acme", created(allowed_models=[], expires_at=None)))
    principal = model.authenticate_key(KEY, T0 + 10_000 * DAY)
    assert principal is not None and principal.allows("anything")


@pytest.mark.parametrize("given", ["", "garbage", keys.format_key("key000000009", SECRET),
                                   keys.format_key(KEY_ID, "x" * 43), token_str(KEY_ID)])
def test_unknown_malformed_wrong_secret_or_token_strings_do_not_authenticate(acme, given):
    assert acme.authenticate_key(given, T0) is None


def test_a_key_stops_at_its_expiry(acme):
    assert acme.authenticate_key(KEY, T0 + 30 * DAY - DAY) is not None
    assert acme.authenticate_key(KEY, T0 + 30 * DAY) is None


def test_revocation_stops_a_key_the_moment_it_is_applied(log, acme):
    acme.apply_batch(log("acme", i.ApiKeyRevoked(key_id=KEY_ID)))
    assert acme.authenticate_key(KEY, T0) is None
    assert acme.api_key("acme", KEY_ID).status(T0) == "revoked"


def test_limit_and_budget_changes_apply_to_the_next_authentication(log, acme):
    acme.apply_batch(log("acme", i.ApiKeyLimitsChanged(key_id=KEY_ID, rpm=5, tpm=None),
                         i.ApiKeyBudgetChanged(key_id=KEY_ID, budget="0.50", previous="25")))
    principal = acme.authenticate_key(KEY, T0)
    assert (principal.rpm, principal.tpm, principal.budget) == (5, None, Decimal("0.50"))


def test_views_list_a_tenants_keys_without_hashes(log, acme):
    acme.apply_batch(log("acme", created("key000000002", name="ci")) + log("beta", created("key000000003")))
    page = acme.api_keys("acme")
    assert [v.key_id for v in page.items] == [KEY_ID, "key000000002"]
    assert all(not hasattr(v, "key_hash") and keys.hash_secret(SECRET) not in repr(v) for v in page.items)
    assert acme.api_key("acme", "key000000003") is None and acme.api_key("beta", "key000000003").tenant == "beta"
    assert acme.api_key("acme", KEY_ID).created_by == "test"


def test_a_key_id_taken_in_another_tenant_never_authenticates_there(log, acme):
    acme.apply_batch(log("beta", created(key_hash=keys.hash_secret("y" * 43))))
    assert acme.authenticate_key(keys.format_key(KEY_ID, "y" * 43), T0) is None
    assert acme.authenticate_key(KEY, T0).tenant == "acme"


def test_bearer_tokens_and_api_keys_are_separate_credentials(log, acme):
    acme.apply_batch(log("acme", i.UserCreated(user_id="alice", name="A", role="member"), token_issued()))
    assert acme.authenticate(KEY, T0) is None and acme.authenticate_key(token_str(), T0) is None
    assert acme.authenticate(token_str(), T0) is not None


def test_a_rebuilt_model_equals_the_live_one_and_differs_after_a_change(log):
    batches = [log("acme", created()), log("acme", i.ApiKeyLimitsChanged(key_id=KEY_ID, rpm=1, tpm=2)),
               log("acme", i.ApiKeyRevoked(key_id=KEY_ID))]
    live, rebuilt = IdentityModel(), IdentityModel()
    for batch in batches:
        live.apply_batch(batch)
    rebuilt.bulk(True)
    rebuilt.apply_batch([pair for batch in batches for pair in batch])
    rebuilt.bulk(False)
    assert rebuilt.state_hash() == live.state_hash()
    partial = IdentityModel()
    partial.apply_batch(batches[0])
    assert partial.state_hash() != live.state_hash()
    assert live.apply(*batches[0][0]) is False  # at or below the position: not applied twice
