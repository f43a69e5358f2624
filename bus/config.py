"""One TOML table plus `<PREFIX><NAME>` environment variables into a frozen settings dataclass.

Sources, lowest to highest precedence: the dataclass defaults, table `[<table>]`
of the configuration file (`$TESSERA_CONFIG`, else `$TESSERA_HOME/tessera.toml`),
then environment variables `<prefix><NAME>`. Values are coerced to the type of
the field's default (bool, int, float, str, tuple of floats); an unknown key or
a bad value is a `ConfigError` naming where it came from (`tessera.toml
control.sweep_interval`, `TESSERA_CONTROL_SWEEP_INTERVAL`). Fields named in
`skip` (e.g. a clock) are not configurable. Nothing is read at import.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import fields, replace
from pathlib import Path
from typing import Any, TypeVar

from bus.errors import ConfigError

T = TypeVar("T")
_KINDS = {int: "an integer", float: "a number", bool: "true or false", str: "a string",
          tuple: "a comma-separated list of numbers"}


def config_path(env: Mapping[str, str]) -> Path:
    home = Path(env.get("TESSERA_HOME", ".tessera"))
    return Path(env["TESSERA_CONFIG"]) if env.get("TESSERA_CONFIG") else home / "tessera.toml"


def load_table(cls: type[T], table: str, prefix: str, environ: Mapping[str, str] | None = None,
               *, skip: Iterable[str] = (), check: Callable[[T, Mapping[str, str]], None] | None = None) -> T:
    """`check(settings, origins)` validates across fields; `origins[name]` says where a value came from."""
    env = os.environ if environ is None else environ
    path = config_path(env)
    values: dict[str, Any] = {}
    origins: dict[str, str] = {}
    if path.is_file():
        try:
            found = tomllib.loads(path.read_text()).get(table, {})
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{path}: invalid TOML ({exc})") from None
        if not isinstance(found, dict):
            raise ConfigError(f"{path} {table}: must be a table")
        values.update(found)
        origins.update({name: f"{path} {table}.{name}" for name in found})
    skipped = set(skip)
    for f in fields(cls):
        var = prefix + f.name.upper()
        if f.name not in skipped and env.get(var):
            values[f.name], origins[f.name] = env[var], var
    settings = from_mapping(cls, values, origins, skip=skipped)
    if check is not None:
        check(settings, {f.name: origins.get(f.name, f"{table}.{f.name}") for f in fields(cls)})
    return settings


def from_mapping(cls: type[T], values: Mapping[str, Any], origins: Mapping[str, str] | None = None,
                 *, skip: Iterable[str] = ()) -> T:
    origins = origins or {}
    known = {f.name for f in fields(cls)} - set(skip)
    settings = cls()
    for name, raw in values.items():
        where = origins.get(name, name)
        if name not in known:
            raise ConfigError(f"{where}: unknown setting (known: {', '.join(sorted(known))})")
        settings = replace(settings, **{name: coerce(where, raw, type(getattr(settings, name)))})
    return settings


def coerce(where: str, raw: Any, kind: type) -> Any:
    try:
        if kind is bool:
            if isinstance(raw, bool):
                return raw
            text = str(raw).lower()
            if text in ("1", "true", "yes", "on", "0", "false", "no", "off"):
                return text in ("1", "true", "yes", "on")
            raise ValueError(raw)
        if kind is tuple:
            items = raw.split(",") if isinstance(raw, str) else list(raw)
            return tuple(float(x) for x in items)
        if kind is int and (isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer())):
            raise ValueError(raw)
        if kind is str and not isinstance(raw, str):
            raise ValueError(raw)
        return kind(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: must be {_KINDS.get(kind, kind.__name__)}, got {raw!r}") from None
