"""Token lifecycle (issue, expiry bounds, revoke) and the once-only platform bootstrap."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from domains.errors import Conflict, NotFound
from domains.identity import MAX_TOKEN_LIFETIME, PlatformState, TokenState, decide, fold
from domains.identity.errors import IdentityError
from schemas import identity as i
from tests.factories.identity import DAY, T0, bootstrap, issue_token, token_issued


def token(*given) -> TokenState:
    return fold(TokenState(), given)


def test_issuing_records_the_hash_owner_and_expiry_never_a_secret():
    then = decide(token(), issue_token(expires_at=T0 + DAY), now=T0)
    assert then == [token_issued(expires_at=T0 + DAY)]
    assert set(type(then[0]).model_fields) == {"token_id", "user_id", "name", "token_hash", "expires_at"}


@pytest.mark.parametrize("expires_at", [T0, T0 - DAY, T0 + MAX_TOKEN_LIFETIME + DAY])
def test_a_token_must_expire_in_the_future_within_the_maximum_lifetime(expires_at):
    with pytest.raises(IdentityError) as err:
        decide(token(), issue_token(expires_at=expires_at), now=T0)
    assert (err.value.code, err.value.field) == ("invalid", "expires_at")


def test_the_longest_lifetime_is_accepted():
    assert decide(token(), issue_token(expires_at=T0 + MAX_TOKEN_LIFETIME), now=T0)


def test_a_token_id_is_never_issued_twice_even_after_revocation():
    revoked = token(token_issued(), i.TokenRevoked(token_id="tok000000001", user_id="alice"))
    for state in (token(token_issued()), revoked):
        with pytest.raises(Conflict) as err:
            decide(state, issue_token(), now=T0)
        assert err.value.field == "token_id"


def test_revoking_names_the_owner_and_revoking_again_decides_nothing():
    then = decide(token(token_issued()), i.RevokeToken(token_id="tok000000001"), now=T0)
    assert then == [i.TokenRevoked(token_id="tok000000001", user_id="alice")]
    assert decide(token(token_issued(), *then), i.RevokeToken(token_id="tok000000001"), now=T0) == []


def test_an_expired_token_can_still_be_revoked():
    issued = token_issued(expires_at=T0 + DAY)
    assert decide(token(issued), i.RevokeToken(token_id="tok000000001"), now=T0 + 2 * DAY)


def test_revoking_an_unknown_token_is_not_found():
    with pytest.raises(NotFound):
        decide(token(), i.RevokeToken(token_id="tok000000009"), now=T0)


@pytest.mark.parametrize("field,value", [("token_id", "short"), ("token_id", "tok00000000.1"),
                                         ("token_hash", "ABC"), ("expires_at", "2026-01-01T00:00:00")])
def test_malformed_token_commands_are_rejected_with_the_field(field, value):
    with pytest.raises(ValidationError) as err:
        i.IssueToken(**{**issue_token().model_dump(), field: value})
    assert err.value.errors()[0]["loc"][0] == field


def test_the_platform_is_bootstrapped_once():
    then = decide(PlatformState(), bootstrap(), now=T0)
    assert [type(e) for e in then] == [i.PlatformBootstrapped]
    assert then[0].admin_user_id == "root" and then[0].token_id == "boot00000001"
    with pytest.raises(Conflict) as err:
        decide(fold(PlatformState(), then), bootstrap(admin="other", token_id="boot00000002"), now=T0)
    assert err.value.code == "already_bootstrapped"


def test_the_bootstrap_token_must_expire_too():
    with pytest.raises(IdentityError):
        decide(PlatformState(), bootstrap(expires_at=T0), now=T0)
