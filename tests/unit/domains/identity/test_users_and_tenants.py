"""Tenant and user lifecycles: given events, when a command, then events or a rejection."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from domains.errors import Conflict, IllegalTransition, NotFound
from domains.identity import TenantState, UserState, decide, fold
from domains.identity.errors import IdentityError
from schemas import identity as i
from tests.factories.identity import T0


def user(*given) -> UserState:
    return fold(UserState(), given)


CREATED = i.UserCreated(user_id="alice", name="Alice", role="member")


def test_a_new_tenant_is_created_once_and_a_second_create_is_a_conflict():
    then = decide(TenantState(), i.CreateTenant(tenant="acme", display_name="ACME"), now=T0)
    assert then == [i.TenantCreated(tenant="acme", display_name="ACME")]
    with pytest.raises(Conflict) as err:
        decide(fold(TenantState(), then), i.CreateTenant(tenant="acme", display_name="Other"), now=T0)
    assert err.value.code == "conflict" and err.value.field == "tenant"


@pytest.mark.parametrize("name", ["_platform", "Acme", "acme.corp", "acme corp", "-acme", "acme-", "1acme", "",
                                  "a" * 64])
def test_tenant_names_are_lower_case_slugs(name):
    with pytest.raises(ValidationError) as err:
        i.CreateTenant(tenant=name, display_name="x")
    assert err.value.errors()[0]["loc"] == ("tenant",)


@pytest.mark.parametrize("name", ["a", "acme", "acme-corp-2", "a" * 63])
def test_slug_tenant_names_are_accepted(name):
    assert i.CreateTenant(tenant=name, display_name="x").tenant == name


def test_creating_a_user_records_its_role_and_a_duplicate_is_a_conflict():
    then = decide(user(), i.CreateUser(user_id="alice", name="Alice", role="member"), now=T0)
    assert then == [CREATED]
    with pytest.raises(Conflict) as err:
        decide(user(*then), i.CreateUser(user_id="alice", name="Alice again", role="viewer"), now=T0)
    assert err.value.field == "user_id"


def test_an_unknown_role_is_rejected_by_the_schema_and_by_the_domain():
    with pytest.raises(ValidationError):
        i.CreateUser(user_id="alice", name="Alice", role="owner")
    smuggled = i.CreateUser.model_construct(user_id="alice", name="Alice", role="owner")
    with pytest.raises(IdentityError) as err:
        decide(user(), smuggled, now=T0)
    assert (err.value.code, err.value.field) == ("invalid", "role")


def test_changing_a_role_records_the_previous_one_and_the_same_role_decides_nothing():
    assert decide(user(CREATED), i.ChangeRole(user_id="alice", role="tenant-admin"), now=T0) == [
        i.RoleChanged(user_id="alice", role="tenant-admin", previous="member")]
    assert decide(user(CREATED), i.ChangeRole(user_id="alice", role="member"), now=T0) == []
    changed = user(CREATED, i.RoleChanged(user_id="alice", role="viewer", previous="member"))
    assert changed.role == "viewer"


def test_commands_for_a_user_that_was_never_created_are_not_found():
    for command in (i.ChangeRole(user_id="ghost", role="viewer"), i.DisableUser(user_id="ghost")):
        with pytest.raises(NotFound) as err:
            decide(user(), command, now=T0)
        assert err.value.field == "user_id"


def test_disabling_is_final_idempotent_and_freezes_the_role():
    then = decide(user(CREATED), i.DisableUser(user_id="alice"), now=T0)
    assert then == [i.UserDisabled(user_id="alice")]
    disabled = user(CREATED, *then)
    assert disabled.disabled
    assert decide(disabled, i.DisableUser(user_id="alice"), now=T0) == []
    with pytest.raises(IllegalTransition):
        decide(disabled, i.ChangeRole(user_id="alice", role="tenant-admin"), now=T0)


def test_evolve_refuses_an_event_of_another_domain():
    from schemas.policy import QuotaLimits, QuotaSet

    with pytest.raises(TypeError):
        fold(UserState(), [QuotaSet(tenant="acme", limits=QuotaLimits())])
