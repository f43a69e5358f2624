"""Shared fixtures: real nats-server processes on free loopback ports.

Each server gets a temporary store directory and is stopped by its process id
at teardown (SIGTERM, then SIGKILL). `nats_server` is per test (failure tests
kill it); `shared_nats` is one server for the whole session, for tests that
only need a live server and isolate themselves by stream or subject names.
"""

from __future__ import annotations

import pytest

from bus.connection import connect
from bus.server import ServerProcess
from bus.settings import Settings
from bus.streams import ensure_streams


@pytest.fixture
def nats_server(tmp_path):
    server = ServerProcess(store_dir=tmp_path / "store").start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def shared_nats(tmp_path_factory):
    server = ServerProcess(store_dir=tmp_path_factory.mktemp("nats") / "store", name="shared").start()
    yield server
    server.stop()


@pytest.fixture
def settings() -> Settings:
    return Settings(publish_timeout=5.0)


@pytest.fixture
async def nc(nats_server, settings):
    client = await connect(nats_server.url, settings)
    await ensure_streams(client.jetstream(), settings)
    yield client
    await client.close()
