"""Snapshots of in-memory read models: a restart loads state + position and replays only the tail (P3).

The registry, the identity model and the gateway's fleet view (anything with
`state_hash`, or `snapshot = True`; never a blocking projection such as the
ClickHouse sink, whose state is its tables) are saved to the JetStream Object
Store bucket `tessera_snapshots` and loaded on start (gateway/http/runtime.py).
A snapshot that is of another format, another version of the fold code, or
another log is ignored, never misread: the models are rebuilt from zero.

- format.py: header + body, `capture` / `restore` / `compatible`;
- pickling.py: the fast, restricted pickle of the models' state;
- storage.py: `SnapshotStore`, `restore_runner`, `Snapshotter`.
"""

from projections.snapshots.format import (
    FORMAT,
    capture,
    compatible,
    header,
    restore,
    snapshottable,
    stream_id,
)
from projections.snapshots.storage import (
    BUCKET,
    LIVE,
    SnapshotStore,
    Snapshotter,
    restore_runner,
    start_from_snapshots,
)

__all__ = ["BUCKET", "FORMAT", "LIVE", "SnapshotStore", "Snapshotter", "capture", "compatible", "header", "restore",
           "restore_runner", "snapshottable", "start_from_snapshots", "stream_id"]
