from pathlib import Path

import pytest

from bus.errors import ConfigError
from bus.settings import Settings


def test_defaults_run_the_embedded_server_under_dot_tessera():
    settings = Settings.load({})
    assert settings.embedded and settings.home == Path(".tessera") and settings.replicas == 1


def test_environment_overrides_the_file_and_the_file_overrides_defaults(tmp_path):
    (tmp_path / "tessera.toml").write_text('[bus]\nreplicas = 3\npublish_timeout = 2.5\nsync_always = true\n')
    settings = Settings.load({"TESSERA_HOME": str(tmp_path), "TESSERA_PUBLISH_TIMEOUT": "7"})
    assert (settings.replicas, settings.publish_timeout, settings.sync_always) == (3, 7.0, True)


def test_a_nats_url_disables_the_embedded_server():
    assert not Settings.load({"TESSERA_NATS_URL": "nats://a:4222,nats://b:4222"}).embedded


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"TESSERA_REPLICAS": "2"}, "TESSERA_REPLICAS: must be 1, 3 or 5, got 2"),
        ({"TESSERA_SYNC_ALWAYS": "maybe"}, "TESSERA_SYNC_ALWAYS: must be true or false"),
        ({"TESSERA_NATS_PORT": "http"}, "TESSERA_NATS_PORT: must be an integer"),
    ],
)
def test_invalid_values_name_their_source(environ, message):
    with pytest.raises(ConfigError, match=message):
        Settings.load(environ)


def test_unknown_keys_in_the_file_are_rejected_with_their_path(tmp_path):
    (tmp_path / "tessera.toml").write_text("[bus]\nreplica = 3\n")
    with pytest.raises(ConfigError, match=r"tessera.toml bus.replica: unknown setting"):
        Settings.load({"TESSERA_HOME": str(tmp_path)})


def test_invalid_toml_is_a_config_error(tmp_path):
    (tmp_path / "tessera.toml").write_text("[bus\n")
    with pytest.raises(ConfigError, match="invalid TOML"):
        Settings.load({"TESSERA_HOME": str(tmp_path)})


def test_secrets_are_not_in_the_repr():
    assert "s3cret" not in repr(Settings(nats_password="s3cret", nats_token="s3cret"))
