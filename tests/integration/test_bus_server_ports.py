"""Starting nats-server on loopback ports: a port picked here and taken by someone else is picked again."""

from __future__ import annotations

import socket

import pytest

from bus import server as server_module
from bus.errors import ServerStartError
from bus.server import ServerProcess


def test_a_picked_port_taken_before_the_server_binds_it_is_picked_again(tmp_path, monkeypatch):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        real = server_module.free_port
        picks = iter([busy])  # the first pick loses the race to another process
        monkeypatch.setattr(server_module, "free_port", lambda: next(picks, None) or real())
        server = ServerProcess(store_dir=tmp_path / "store")
        assert server.port == busy
        try:
            server.start()
            assert server.port != busy and server.healthy()
        finally:
            server.stop()


def test_a_port_the_caller_chose_that_is_taken_is_a_clear_error(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(ServerStartError, match="already in use: set TESSERA_NATS_PORT"):
            ServerProcess(store_dir=tmp_path / "store", port=taken.getsockname()[1]).start()
