"""Settings for the bus: read once at the composition root, then passed in.

Sources, lowest to highest precedence: built-in defaults, a TOML file
(`$TESSERA_CONFIG`, else `$TESSERA_HOME/tessera.toml` if present, table
`[bus]`), then environment variables. Nothing here is read at import time.

| setting            | env                      | default      |
|--------------------|--------------------------|--------------|
| home               | TESSERA_HOME             | ./.tessera   |
| nats_url           | TESSERA_NATS_URL         | (embedded)   |
| nats_port          | TESSERA_NATS_PORT        | 0 (free)     |
| nats_creds         | TESSERA_NATS_CREDS       | -            |
| nats_user/password | TESSERA_NATS_USER/_PASSWORD | -         |
| nats_token         | TESSERA_NATS_TOKEN       | -            |
| tls_ca/cert/key    | TESSERA_NATS_TLS_CA/_CERT/_KEY | -      |
| replicas           | TESSERA_REPLICAS         | 1            |
| sync_always        | TESSERA_SYNC_ALWAYS      | false (embedded dev); production sets true |
| duplicate_window   | TESSERA_DUPLICATE_WINDOW | 120 (seconds)|
| publish_timeout    | TESSERA_PUBLISH_TIMEOUT  | 5 (seconds)  |
| evt_max_bytes      | TESSERA_EVT_MAX_BYTES    | -1 (unlimited; reaching a limit rejects, never evicts) |
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Mapping

from bus.errors import ConfigError

_ENV = {
    "home": "TESSERA_HOME",
    "nats_url": "TESSERA_NATS_URL",
    "nats_port": "TESSERA_NATS_PORT",
    "nats_creds": "TESSERA_NATS_CREDS",
    "nats_user": "TESSERA_NATS_USER",
    "nats_password": "TESSERA_NATS_PASSWORD",
    "nats_token": "TESSERA_NATS_TOKEN",
    "tls_ca": "TESSERA_NATS_TLS_CA",
    "tls_cert": "TESSERA_NATS_TLS_CERT",
    "tls_key": "TESSERA_NATS_TLS_KEY",
    "replicas": "TESSERA_REPLICAS",
    "sync_always": "TESSERA_SYNC_ALWAYS",
    "duplicate_window": "TESSERA_DUPLICATE_WINDOW",
    "publish_timeout": "TESSERA_PUBLISH_TIMEOUT",
    "evt_max_bytes": "TESSERA_EVT_MAX_BYTES",
}


@dataclass(frozen=True)
class Settings:
    home: Path = Path(".tessera")
    nats_url: str | None = None
    nats_port: int = 0
    nats_creds: str | None = None
    nats_user: str | None = None
    nats_password: str | None = field(default=None, repr=False)
    nats_token: str | None = field(default=None, repr=False)
    tls_ca: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    replicas: int = 1
    sync_always: bool = False
    duplicate_window: float = 120.0
    publish_timeout: float = 5.0
    evt_max_bytes: int = -1

    @property
    def embedded(self) -> bool:
        return not self.nats_url

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        home = Path(env.get("TESSERA_HOME", ".tessera"))
        path = Path(env["TESSERA_CONFIG"]) if env.get("TESSERA_CONFIG") else home / "tessera.toml"
        values: dict[str, Any] = {"home": home}
        origins = {"home": "TESSERA_HOME"}
        if path.is_file():
            try:
                table = tomllib.loads(path.read_text()).get("bus", {})
            except (OSError, tomllib.TOMLDecodeError) as exc:
                raise ConfigError(f"{path}: invalid TOML ({exc})") from None
            values.update(table)
            origins.update({name: f"{path} bus.{name}" for name in table})
        for name, var in _ENV.items():
            if env.get(var):
                values[name], origins[name] = env[var], var
        return cls.from_mapping(values, origins)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], origins: Mapping[str, str] | None = None) -> Settings:
        origins = origins or {}
        known = {f.name for f in fields(cls)}
        for name in values:
            if name not in known:
                raise ConfigError(f"{origins.get(name, name)}: unknown setting (known: {', '.join(sorted(known))})")
        settings = cls()
        for name, raw in values.items():
            where = origins.get(name, name)
            settings = replace(settings, **{name: _coerce(where, raw, type(getattr(settings, name)))})
        if settings.replicas not in (1, 3, 5):
            raise ConfigError(f"{origins.get('replicas', 'replicas')}: must be 1, 3 or 5, got {settings.replicas}")
        return settings


def _coerce(where: str, raw: Any, kind: type) -> Any:
    if kind is type(None) or raw is None:
        return None if raw is None else str(raw)
    try:
        if kind is bool:
            if isinstance(raw, bool):
                return raw
            if str(raw).lower() in ("1", "true", "yes", "on"):
                return True
            if str(raw).lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        if issubclass(kind, Path):
            return Path(raw)
        return kind(raw)
    except (TypeError, ValueError):
        kinds = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}
        raise ConfigError(f"{where}: must be {kinds.get(kind, kind.__name__)}, got {raw!r}") from None
