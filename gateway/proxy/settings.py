"""Proxy settings: defaults, the `[proxy]` table of the TOML config, then TESSERA_PROXY_* variables.

| setting            | env                               | default   |
|--------------------|-----------------------------------|-----------|
| host               | TESSERA_PROXY_HOST                | 127.0.0.1 |
| port               | TESSERA_PROXY_PORT                | 8471      |
| max_body_bytes     | TESSERA_PROXY_MAX_BODY_BYTES      | 8388608   |
| default_max_tokens | TESSERA_PROXY_DEFAULT_MAX_TOKENS  | 1024 (reserved against tpm/budget when a request names no max_tokens) |
| max_attempts       | TESSERA_PROXY_MAX_ATTEMPTS        | 3 (distinct replicas per request) |
| eject_s            | TESSERA_PROXY_EJECT_S             | 5 (a failed replica is skipped this long) |
| max_connections    | TESSERA_PROXY_MAX_CONNECTIONS     | 1024 (upstream pool) |
| read_timeout_s     | TESSERA_PROXY_READ_TIMEOUT_S      | 600 |
| freeze_heap        | TESSERA_PROXY_FREEZE_HEAP         | true (gc.freeze() once started: shorter GC pauses) |
Read at the composition root (`load`), never at import.
"""

from __future__ import annotations

from dataclasses import dataclass

from bus.config import load_table


@dataclass(frozen=True)
class ProxySettings:
    host: str = "127.0.0.1"
    port: int = 8471
    max_body_bytes: int = 8 * 1024 * 1024
    default_max_tokens: int = 1024
    max_attempts: int = 3
    eject_s: float = 5.0
    max_connections: int = 1024
    read_timeout_s: float = 600.0
    freeze_heap: bool = True

    @classmethod
    def load(cls, env: dict[str, str] | None = None) -> ProxySettings:
        """`[proxy]` of the configuration file, then TESSERA_PROXY_<NAME> (bus/config.py; errors name the key)."""
        return load_table(cls, "proxy", "TESSERA_PROXY_", env)
