"""Minting bearer tokens at the edge: the one place token ids and secrets are drawn at random.

`new_token()` returns `(token_str, token_id, token_hash)`. Show `token_str` to
the caller once and put only `token_id` and `token_hash` into IssueToken /
BootstrapPlatform: the secret never reaches the bus, a log or a store. Ids and
secrets come from `secrets` (a CSPRNG); the format and hash are
`domains.identity.tokens`'.

`new_api_key()` does the same for API keys (`tsk-live-<key_id>_<secret>`,
`domains.identity.keys`): put `key_id` and `key_hash` into CreateApiKey.
"""

from __future__ import annotations

import base64
import secrets

from domains.identity import keys, tokens


def new_token() -> tuple[str, str, str]:
    token_id = secrets.token_urlsafe(9)  # 9 bytes -> exactly 12 url-safe chars
    secret = base64.urlsafe_b64encode(secrets.token_bytes(tokens.SECRET_BYTES)).rstrip(b"=").decode()
    return tokens.format_token(token_id, secret), token_id, tokens.hash_secret(secret)


def new_api_key() -> tuple[str, str, str]:
    key_id = secrets.token_urlsafe(9)
    secret = base64.urlsafe_b64encode(secrets.token_bytes(tokens.SECRET_BYTES)).rstrip(b"=").decode()
    return keys.format_key(key_id, secret), key_id, keys.hash_secret(secret)
