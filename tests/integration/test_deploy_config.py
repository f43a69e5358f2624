"""The production NATS config parses with the real nats-server and keeps every write durable."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from bus.server import find_binary

CONF = Path(__file__).resolve().parents[2] / "deploy" / "nats" / "cluster.conf"


def test_the_production_nats_config_is_valid_for_nats_server():
    result = subprocess.run([find_binary(), "-c", str(CONF), "-t"], capture_output=True, text=True,
                            env={**os.environ, "NATS_SERVER_NAME": "nats-0"}, timeout=30)
    assert result.returncode == 0, result.stderr + result.stdout
    assert "is valid" in result.stderr + result.stdout


def test_the_production_nats_config_fsyncs_every_write_and_clusters_three_nodes():
    text = CONF.read_text()
    assert "sync_interval: always" in text
    assert text.count("nats-route://") == 3
