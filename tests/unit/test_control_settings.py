"""ControlSettings.load: defaults, the [control] table, TESSERA_CONTROL_* variables, errors naming the key."""

from __future__ import annotations

import pytest

from bus.control.settings import ControlSettings
from bus.errors import ConfigError


def test_defaults_without_file_or_environment(tmp_path):
    s = ControlSettings.load({"TESSERA_HOME": str(tmp_path)})
    assert (s.heartbeat_timeout, s.health_interval, s.policy, s.backoff) == (30.0, 5.0, "binpack", (0.2, 1.0, 5.0, 15.0))


def test_the_file_sets_and_the_environment_overrides(tmp_path):
    (tmp_path / "tessera.toml").write_text('[control]\nheartbeat_timeout = 12\npolicy = "spread"\nbackoff = [1, 2]\n')
    s = ControlSettings.load({"TESSERA_HOME": str(tmp_path), "TESSERA_CONTROL_HEARTBEAT_TIMEOUT": "7.5"})
    assert (s.heartbeat_timeout, s.policy, s.backoff) == (7.5, "spread", (1.0, 2.0))


@pytest.mark.parametrize(("toml", "env", "fragment"), [
    ("[control]\nheartbeat_timout = 3\n", {}, "control.heartbeat_timout: unknown setting"),
    ("", {"TESSERA_CONTROL_SWEEP_INTERVAL": "soon"}, "TESSERA_CONTROL_SWEEP_INTERVAL: must be a number, got 'soon'"),
    ("[control]\npolicy = \"random\"\n", {}, "control.policy: must be binpack or spread"),
    ("", {"TESSERA_CONTROL_HEALTH_INTERVAL": "0"}, "TESSERA_CONTROL_HEALTH_INTERVAL: must be > 0"),
])
def test_bad_settings_name_their_key(tmp_path, toml, env, fragment):
    (tmp_path / "tessera.toml").write_text(toml)
    with pytest.raises(ConfigError, match=fragment.replace(".", r"\.").replace("(", r"\(")):
        ControlSettings.load({"TESSERA_HOME": str(tmp_path), **env})


def test_the_clock_is_not_configurable_from_the_file(tmp_path):
    (tmp_path / "tessera.toml").write_text('[control]\nclock = "x"\n')
    with pytest.raises(ConfigError, match="control.clock: unknown setting"):
        ControlSettings.load({"TESSERA_HOME": str(tmp_path)})
