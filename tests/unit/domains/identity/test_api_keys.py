"""API keys: the key format, the apikey aggregate's lifecycle, and minting at the edge."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from domains.errors import Conflict, IllegalTransition, NotFound
from domains.identity import apikeys, keys, tokens
from gateway.tokens import new_api_key, new_token
from schemas import identity as i
from tests.factories.identity import DAY, SECRET, T0

KEY_ID = "key000000001"


def create(key_id: str = KEY_ID, **more) -> i.CreateApiKey:
    fields = {"name": "prod", "key_hash": keys.hash_secret(SECRET), "allowed_models": ["llama"],
              "expires_at": T0 + 30 * DAY, "rpm": 60, "tpm": 10_000, "budget": "25.00", **more}
    return i.CreateApiKey(key_id=key_id, **fields)


class Key:
    def __init__(self, *commands) -> None:
        self.events: list = []
        for command in commands:
            self.when(command)

    def when(self, command, now=T0) -> list:
        new = apikeys.decide(apikeys.fold(self.events), command, now=now)
        self.events += new
        return new


def test_creating_a_key_records_its_scope_limits_and_hash_only():
    [created] = Key().when(create())
    assert isinstance(created, i.ApiKeyCreated)
    assert (created.allowed_models, created.rpm, created.tpm, created.budget) == (["llama"], 60, 10_000,
                                                                                   Decimal("25.00"))
    assert created.key_hash == keys.hash_secret(SECRET) and SECRET not in created.model_dump_json()


def test_a_key_without_expiry_limits_or_budget_is_unlimited():
    [created] = Key().when(create(expires_at=None, rpm=None, tpm=None, budget=None, allowed_models=[]))
    state = apikeys.fold([created])
    assert (state.expires_at, state.rpm, state.tpm, state.budget) == (None, None, None, None)


def test_a_taken_key_id_is_a_conflict_and_a_past_expiry_is_invalid():
    with pytest.raises(Conflict):
        Key(create()).when(create())
    with pytest.raises(Exception) as error:
        Key().when(create(expires_at=T0 - timedelta(seconds=1)))
    assert (error.value.code, error.value.field) == ("invalid", "expires_at")


@pytest.mark.parametrize("command", [i.RevokeApiKey(key_id=KEY_ID), i.ChangeApiKeyLimits(key_id=KEY_ID, rpm=1),
                                     i.ChangeApiKeyBudget(key_id=KEY_ID, budget="1")])
def test_commands_for_a_key_never_created_are_not_found(command):
    with pytest.raises(NotFound) as error:
        Key().when(command)
    assert error.value.field == "key_id"


def test_revoking_is_idempotent_and_final():
    key = Key(create())
    assert key.when(i.RevokeApiKey(key_id=KEY_ID)) == [i.ApiKeyRevoked(key_id=KEY_ID)]
    assert key.when(i.RevokeApiKey(key_id=KEY_ID)) == []
    for change in (i.ChangeApiKeyLimits(key_id=KEY_ID, rpm=5), i.ChangeApiKeyBudget(key_id=KEY_ID, budget="9")):
        with pytest.raises(IllegalTransition):
            key.when(change)


def test_limits_are_replaced_together_and_unchanged_limits_decide_nothing():
    key = Key(create())
    assert key.when(i.ChangeApiKeyLimits(key_id=KEY_ID, rpm=120, tpm=None)) == [
        i.ApiKeyLimitsChanged(key_id=KEY_ID, rpm=120, tpm=None)]
    assert key.when(i.ChangeApiKeyLimits(key_id=KEY_ID, rpm=120, tpm=None)) == []


def test_a_budget_change_records_the_previous_budget_and_an_equal_one_decides_nothing():
    key = Key(create())
    [changed] = key.when(i.ChangeApiKeyBudget(key_id=KEY_ID, budget="100"))
    assert (changed.budget, changed.previous) == (Decimal(100), Decimal("25.00"))
    assert key.when(i.ChangeApiKeyBudget(key_id=KEY_ID, budget="100.00")) == []
    [unlimited] = key.when(i.ChangeApiKeyBudget(key_id=KEY_ID, budget=None))
    assert unlimited.budget is None


@pytest.mark.parametrize("field,value", [("rpm", 0), ("tpm", -1), ("budget", "-1"), ("budget", 1.5),
                                         ("key_hash", "abc"), ("key_id", "short")])
def test_the_schema_refuses_bad_fields_by_name(field, value):
    with pytest.raises(Exception) as error:
        create(**{field: value})
    assert error.value.errors()[0]["loc"][0] == field


def test_key_strings_round_trip_and_never_pass_for_tokens_or_the_other_way_round():
    key = keys.format_key(KEY_ID, SECRET)
    assert key.startswith("tsk-live-") and keys.parse(key) == (KEY_ID, SECRET)
    with pytest.raises(tokens.MalformedToken):
        tokens.parse(key)
    with pytest.raises(keys.MalformedKey):
        keys.parse(tokens.format_token(KEY_ID, SECRET))
    for bad in ("", "tsk-live-", f"tsk-live-{KEY_ID}{SECRET}", key + "x", None):
        with pytest.raises(keys.MalformedKey):
            keys.parse(bad)


def test_new_api_keys_are_random_and_only_their_hash_leaves_the_edge():
    key, key_id, key_hash = new_api_key()
    other, _, _ = new_api_key()
    parsed_id, secret = keys.parse(key)
    assert parsed_id == key_id and keys.matches(secret, key_hash) and key != other
    assert secret not in key_hash and new_token()[0].startswith("tsk_")
    i.CreateApiKey(key_id=key_id, name="n", key_hash=key_hash)  # fits the wire contract


def test_admins_and_members_manage_their_tenants_keys_viewers_and_other_tenants_do_not():
    from domains.identity import Principal
    from domains.identity.permissions import allowed, may_manage_key

    root = Principal("_platform", "root", "platform-admin", "t0")
    assert may_manage_key(Principal("acme", "ann", "tenant-admin", "t1"), "acme")
    assert may_manage_key(Principal("acme", "bob", "member", "t2"), "acme")
    assert not may_manage_key(Principal("acme", "vic", "viewer", "t3"), "acme")
    assert not may_manage_key(Principal("beta", "bea", "tenant-admin", "t4"), "acme")
    assert may_manage_key(root, "acme")
    assert allowed("viewer", "keys:read") and not allowed("viewer", "keys:write")
