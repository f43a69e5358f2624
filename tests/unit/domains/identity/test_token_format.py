"""The token string format, hashing and the edge's generator."""

from __future__ import annotations

import hashlib

import pytest

from domains.identity import tokens
from gateway.tokens import new_token
from tests.factories.identity import SECRET


def test_a_generated_token_parses_back_to_its_id_and_matches_only_its_hash():
    token_str, token_id, token_hash = new_token()
    parsed_id, secret = tokens.parse(token_str)
    assert parsed_id == token_id and len(token_id) == 12 and token_str.startswith("tsk_")
    assert token_hash == hashlib.sha256(secret.encode()).hexdigest() and secret not in token_hash
    assert tokens.matches(secret, token_hash)
    assert not tokens.matches(secret[:-1] + ("A" if secret[-1] != "A" else "B"), token_hash)


def test_generated_tokens_are_unique():
    drawn = [new_token() for _ in range(200)]
    assert len({t[0] for t in drawn}) == len({t[1] for t in drawn}) == 200


def test_ids_and_secrets_containing_underscores_parse_by_position():
    token_str = tokens.format_token("a_b_c_d_e_f_", "_" * 43)
    assert tokens.parse(token_str) == ("a_b_c_d_e_f_", "_" * 43)


@pytest.mark.parametrize("bad", ["", "tsk_", "Bearer x", f"tsk_short_{SECRET}", f"tsk_tok000000001_{SECRET}x",
                                 f"tsk_tok000000001_{SECRET[:-1]}", f"tsk_tok000000001_{SECRET[:-1]}=",
                                 f"xsk_tok000000001_{SECRET}", f"tsk_tok00000000.1_{SECRET}", None, 42])
def test_anything_else_is_malformed_and_the_error_does_not_echo_it(bad):
    with pytest.raises(tokens.MalformedToken) as err:
        tokens.parse(bad)
    assert SECRET not in str(err.value)
