"""The API key format: pure, so the domain, the read model, the proxy and the edge agree.

    tsk-live-<key_id>_<secret>   key_id: 12 url-safe base64 chars (the apikey aggregate's id)
                                 secret: 32 random bytes, url-safe base64 without padding (43 chars)

Distinct from bearer tokens (`tsk_<token_id>_<secret>`, tokens.py): a key
string never parses as a token nor a token as a key, so each credential kind
is checked only against its own store. Hash and comparison are the tokens'
(`hash_secret`: sha256 hex; `matches`: constant time). Keys are drawn at the
edge (`gateway/tokens.py: new_api_key`); no randomness here.
"""

from __future__ import annotations

import re

from domains.identity.tokens import SECRET_LENGTH, TOKEN_ID_LENGTH, hash_secret, matches

PREFIX = "tsk-live-"
_FORMAT = re.compile(rf"{re.escape(PREFIX)}([A-Za-z0-9_-]{{{TOKEN_ID_LENGTH}}})_([A-Za-z0-9_-]{{{SECRET_LENGTH}}})")

__all__ = ["PREFIX", "MalformedKey", "format_key", "hash_secret", "matches", "parse"]


class MalformedKey(ValueError):
    """Not a `tsk-live-<key_id>_<secret>` string; says nothing more (it may be a secret)."""


def parse(key_str: str) -> tuple[str, str]:
    """(key_id, secret) of a key string; MalformedKey if it is not one."""
    match = _FORMAT.fullmatch(key_str) if isinstance(key_str, str) else None
    if match is None:
        raise MalformedKey("not a Tessera API key (expected tsk-live-<id>_<secret>)")
    return match[1], match[2]


def format_key(key_id: str, secret: str) -> str:
    key = f"{PREFIX}{key_id}_{secret}"
    parse(key)  # the parts must round-trip
    return key
