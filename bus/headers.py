"""A faster NATS header parser for nats-py, same results: `install()` swaps it in.

nats-py 2.16 parses every received message's header block in Python and checks
each character of each header name with a generator (`any(c.isspace() for c in
key)`): 30-60 µs per JetStream message, the largest single cost of following the
log or pulling commands (every stored message carries `Nats-Msg-Id` and more).
`parse_header_lines` keeps its exact behaviour — `Name: Value` lines split on
the first `:`, names ASCII-decoded and stripped, names with whitespace or
non-ASCII bytes skipped, values stripped and UTF-8-decoded with replacement —
but tests a name for whitespace with one regular-expression search.

`install()` is idempotent and process-wide (it replaces the static method on
nats-py's `Client`); nothing is patched at import time. It refuses (returns
False) when nats-py no longer has the method it replaces.
"""

from __future__ import annotations

import re

from nats.aio import client as nats_client

_CRLF = b"\r\n"
_ORIGINAL = nats_client.Client.__dict__.get("_parse_header_lines")


def original(raw: bytes) -> dict[str, str]:
    """nats-py's own parser (for comparison in tests)."""
    return _ORIGINAL.__func__(raw) if isinstance(_ORIGINAL, staticmethod) else _ORIGINAL(raw)
_WHITESPACE = re.compile(r"\s")  # str.isspace() on an ASCII-decoded name: the same characters


def parse_header_lines(raw: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in raw.split(_CRLF):
        if not line:
            continue
        name, sep, value = line.partition(b":")
        if not sep:
            continue
        try:
            key = name.strip().decode("ascii")
        except UnicodeDecodeError:
            continue
        if _WHITESPACE.search(key):
            continue
        out[key] = value.strip().decode("utf-8", "replace")
    return out


def install() -> bool:
    current = getattr(nats_client.Client, "_parse_header_lines", None)
    if current is None:
        return False
    if getattr(current, "__func__", current) is not parse_header_lines:
        nats_client.Client._parse_header_lines = staticmethod(parse_header_lines)
    return True
