"""The bearer token format and its hash: pure, so the domain, the read model and the edge agree.

    tsk_<token_id>_<secret>     token_id: 12 url-safe base64 chars (the token aggregate's id)
                                secret:   32 random bytes, url-safe base64 without padding (43 chars)

Only `hash_secret(secret)` (sha256, lowercase hex) is ever stored or sent on
the bus; `matches` compares hashes in constant time (`hmac.compare_digest`).
Drawing random ids and secrets is the edge's job (`gateway/tokens.py`): no
randomness here. `parse` splits by position (both parts may contain '_').
"""

from __future__ import annotations

import hashlib
import hmac
import re

PREFIX = "tsk_"
TOKEN_ID_LENGTH = 12
SECRET_BYTES = 32
SECRET_LENGTH = 43  # base64 of 32 bytes without '=' padding
_FORMAT = re.compile(rf"{PREFIX}([A-Za-z0-9_-]{{{TOKEN_ID_LENGTH}}})_([A-Za-z0-9_-]{{{SECRET_LENGTH}}})")


class MalformedToken(ValueError):
    """Not a `tsk_<token_id>_<secret>` string; deliberately says nothing more (it may be a secret)."""


def parse(token_str: str) -> tuple[str, str]:
    """(token_id, secret) of a token string; MalformedToken if it is not one."""
    match = _FORMAT.fullmatch(token_str) if isinstance(token_str, str) else None
    if match is None:
        raise MalformedToken("not a Tessera token (expected tsk_<id>_<secret>)")
    return match[1], match[2]


def format_token(token_id: str, secret: str) -> str:
    token = f"{PREFIX}{token_id}_{secret}"
    parse(token)  # the parts must round-trip
    return token


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def matches(secret: str, token_hash: str) -> bool:
    """Constant-time: the comparison takes as long whichever character differs."""
    return hmac.compare_digest(hash_secret(secret).encode(), token_hash.encode())
