"""The gateway's settings as an operator writes them: tessera.toml `[gateway]` and TESSERA_GATEWAY_* env."""

from __future__ import annotations

import pytest

from bus.errors import ConfigError
from gateway.http import GatewaySettings


def test_defaults_are_the_documented_ones():
    s = GatewaySettings.load({})
    assert (s.port, s.command_timeout, s.max_body_bytes, s.max_page_size, s.rate, s.burst) == (
        8470, 5.0, 1 << 20, 500, 20.0, 40)


def test_the_toml_table_is_read_and_the_environment_wins(tmp_path):
    (tmp_path / "tessera.toml").write_text("[gateway]\nport = 9000\nrate = 50.5\naccess_log = false\n")
    s = GatewaySettings.load({"TESSERA_HOME": str(tmp_path), "TESSERA_GATEWAY_RATE": "7"})
    assert (s.port, s.rate, s.access_log) == (9000, 7.0, False)


@pytest.mark.parametrize("toml, env, fragment", [
    ("[gateway]\nprot = 1\n", {}, "gateway.prot: unknown setting"),
    ("[gateway]\nport = 'x'\n", {}, "gateway.port: must be an integer"),
    ("", {"TESSERA_GATEWAY_BURST": "0"}, "TESSERA_GATEWAY_BURST: must be > 0"),
    ("", {"TESSERA_GATEWAY_PORT": "70000"}, "TESSERA_GATEWAY_PORT: must be a port number"),
    ("", {"TESSERA_GATEWAY_DEFAULT_PAGE_SIZE": "900"}, "TESSERA_GATEWAY_DEFAULT_PAGE_SIZE: must be <= max_page_size"),
    ("[gateway\n", {}, "invalid TOML"),
])
def test_a_bad_setting_names_its_key(tmp_path, toml, env, fragment):
    (tmp_path / "tessera.toml").write_text(toml)
    with pytest.raises(ConfigError, match=fragment.replace("[", r"\[")):
        GatewaySettings.load({"TESSERA_HOME": str(tmp_path), **env})
