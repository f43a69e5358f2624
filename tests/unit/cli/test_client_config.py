"""Where the CLI finds its gateway and token, and how it writes them."""

from __future__ import annotations

import json
import stat

import pytest

from gateway.client import (
    CliConfig,
    Client,
    ClientError,
    NotConfigured,
    load_config,
    save_config,
)


def write(home, **data):
    home.mkdir(parents=True, exist_ok=True)
    (home / "cli.json").write_text(json.dumps(data))


def test_reads_url_and_token_from_cli_json_under_tessera_home(tmp_path):
    write(tmp_path, url="http://gw:8080/", token="tsk_a_b")
    config = load_config({"TESSERA_HOME": str(tmp_path)})
    assert (config.url, config.token) == ("http://gw:8080", "tsk_a_b")


def test_environment_overrides_each_field_separately(tmp_path):
    write(tmp_path, url="http://file:1", token="file-token")
    only_url = load_config({"TESSERA_HOME": str(tmp_path), "TESSERA_URL": "http://env:2"})
    assert (only_url.url, only_url.token) == ("http://env:2", "file-token")
    both = load_config({"TESSERA_HOME": str(tmp_path), "TESSERA_URL": "http://env:2", "TESSERA_TOKEN": "env-token"})
    assert (both.url, both.token) == ("http://env:2", "env-token")


def test_home_defaults_to_dot_tessera_in_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / ".tessera", url="http://here:1", token="t")
    assert load_config({}).url == "http://here:1"


def test_no_configuration_at_all_tells_the_user_to_log_in(tmp_path):
    config = load_config({"TESSERA_HOME": str(tmp_path)})
    with pytest.raises(NotConfigured, match="tessera login"):
        Client.from_config(config)


def test_a_corrupt_cli_json_is_reported_not_raised_as_a_traceback(tmp_path):
    (tmp_path / "cli.json").write_text("{not json")
    with pytest.raises(ClientError, match="cannot read .*cli.json"):
        load_config({"TESSERA_HOME": str(tmp_path)})


def test_saved_config_is_private_to_its_owner_even_when_the_file_existed(tmp_path):
    path = tmp_path / "cli.json"
    path.write_text("{}")
    path.chmod(0o644)
    save_config(CliConfig(tmp_path, "http://gw:1", "tsk_secret"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text()) == {"url": "http://gw:1", "token": "tsk_secret"}


def test_the_token_never_shows_in_the_config_repr(tmp_path):
    assert "tsk_secret" not in repr(CliConfig(tmp_path, "http://gw:1", "tsk_secret"))
