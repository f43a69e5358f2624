"""Settings of the HTTP gateway: read once at the composition root, then passed in.

Same sources as `bus.settings` (lowest to highest precedence): built-in
defaults, the TOML file (`$TESSERA_CONFIG`, else `$TESSERA_HOME/tessera.toml`)
table `[gateway]`, then `TESSERA_GATEWAY_<NAME>` environment variables. An
unknown key or a bad value is a `ConfigError` naming where it came from
(`tessera.toml gateway.rate`, `TESSERA_GATEWAY_RATE`). Nothing is read at import.

| setting           | default    | what                                                              |
|-------------------|------------|-------------------------------------------------------------------|
| host              | 127.0.0.1  | address uvicorn binds                                             |
| port              | 8470       | port (0 = a free port; the runtime exposes the bound URL)         |
| command_timeout   | 5 s        | wait for a command's outcome before answering 202 "pending"       |
| max_body_bytes    | 1048576    | request bodies above this answer 413 (checked while reading)      |
| default_page_size | 50         | `page_size` when none is given                                    |
| max_page_size     | 500        | larger `page_size` answers 422                                    |
| rate              | 20         | requests/s per token (token bucket refill)                        |
| burst             | 40         | bucket size per token                                             |
| anon_rate         | 5          | requests/s per client address without a valid token               |
| anon_burst        | 20         | bucket size per client address                                    |
| sse_heartbeat     | 15 s       | comment line on idle server-sent-event streams                   |
| idempotency_keys  | 10000      | Idempotency-Key -> body hash entries kept per replica (LRU)       |
| token_ttl_s       | 7776000    | default token lifetime (90 days) when `expires_in_s` is not given |
| max_token_ttl_s   | 31536000   | longest token lifetime a caller may ask for (1 year)              |
| control_durable   | control    | the control plane's command consumer (its DLQ: dlq.CMD.<durable>) |
| access_log        | true       | one log line per request (method, path, status, ms; never tokens) |
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bus.config import from_mapping, load_table
from bus.errors import ConfigError

ENV_PREFIX = "TESSERA_GATEWAY_"


@dataclass(frozen=True)
class GatewaySettings:
    host: str = "127.0.0.1"
    port: int = 8470
    command_timeout: float = 5.0
    max_body_bytes: int = 1 << 20
    default_page_size: int = 50
    max_page_size: int = 500
    rate: float = 20.0
    burst: int = 40
    anon_rate: float = 5.0
    anon_burst: int = 20
    sse_heartbeat: float = 15.0
    idempotency_keys: int = 10_000
    token_ttl_s: int = 90 * 86400
    max_token_ttl_s: int = 365 * 86400
    control_durable: str = "control"
    access_log: bool = True

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None) -> GatewaySettings:
        return load_table(cls, "gateway", ENV_PREFIX, environ, check=cls._check)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], origins: Mapping[str, str] | None = None) -> GatewaySettings:
        settings = from_mapping(cls, values, origins)
        settings._check(origins or {})
        return settings

    def _check(self, origins: Mapping[str, str]) -> None:
        positive = ("command_timeout", "max_body_bytes", "default_page_size", "max_page_size", "rate", "burst",
                    "anon_rate", "anon_burst", "sse_heartbeat", "idempotency_keys", "token_ttl_s",
                    "max_token_ttl_s")
        for name in positive:
            if getattr(self, name) <= 0:
                raise ConfigError(f"{origins.get(name, name)}: must be > 0, got {getattr(self, name)!r}")
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"{origins.get('port', 'port')}: must be a port number 0-65535, got {self.port}")
        if self.default_page_size > self.max_page_size:
            raise ConfigError(f"{origins.get('default_page_size', 'default_page_size')}: must be <= max_page_size "
                              f"({self.max_page_size}), got {self.default_page_size}")
