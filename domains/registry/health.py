"""Which nodes count as lost, from the last heartbeat seen of each: pure, the timer lives in bus/.

The health checker keeps `last_seen[node_id]` in memory (routine heartbeats
are not events) and, on each tick, sends MarkNodeLost for what this returns.
A node is lost when strictly more than `timeout` passed since its last
heartbeat; exactly `timeout` is still alive. The result is sorted, so the
same inputs always give the same commands in the same order.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta


def lost_nodes(last_seen: Mapping[str, datetime], now: datetime, timeout: timedelta) -> list[str]:
    if timeout <= timedelta(0):
        raise ValueError(f"timeout must be positive, got {timeout}")
    return sorted(node for node, seen in last_seen.items() if now - seen > timeout)
