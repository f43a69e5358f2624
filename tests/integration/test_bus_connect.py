"""Connecting to a configured server: credentials pass through; failures are one clear line."""

from __future__ import annotations

import pytest

from bus.connection import connect, open_bus
from bus.errors import ConnectError
from bus.server import ServerProcess
from bus.settings import Settings


@pytest.fixture
def secured(tmp_path):
    server = ServerProcess(
        store_dir=tmp_path / "store",
        extra_config='authorization { users = [ { user: "tessera", password: "s3cret-pw" } ] }',
    ).start()
    yield server
    server.stop()


async def test_user_and_password_from_settings_are_passed_to_the_server(secured):
    settings = Settings(nats_url=secured.url, nats_user="tessera", nats_password="s3cret-pw")
    bus = await open_bus(settings)
    try:
        assert bus.server is None  # a configured URL never starts an embedded server
        assert (await bus.js.stream_info("EVT")).config.name == "EVT"
    finally:
        await bus.close()


async def test_a_wrong_password_is_a_connect_error_that_does_not_echo_the_secret(secured):
    settings = Settings(nats_url=secured.url, nats_user="tessera", nats_password="wrong-pw")
    with pytest.raises(ConnectError) as caught:
        await connect(secured.url, settings, timeout=3)
    assert "TESSERA_NATS_URL" in str(caught.value) and "wrong-pw" not in str(caught.value)


async def test_a_cluster_url_list_connects_to_any_live_member(nats_server):
    settings = Settings(nats_url=f"nats://127.0.0.1:1,{nats_server.url}")
    client = await connect(settings.nats_url, settings)
    try:
        assert client.is_connected
    finally:
        await client.close()
