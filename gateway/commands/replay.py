"""`tessera replay`: rebuild every read model and the ClickHouse tables from the log; print their hashes.

- Without `--until*`: the registry (clusters, nodes, jobs, workflows), the
  identity model and the gateway's fleet view are rebuilt from sequence 1
  (or, with `--from-snapshots`, from the stored snapshots + the tail), the
  ClickHouse tables of database `tessera` (from EVT, and the usage tables
  from USAGE) are emptied and rebuilt; the
  in-memory models are stored as the live snapshots (gateways then start from
  them). The state hashes printed at the end are a function of the log's
  prefix only (T7): the same prefix gives the same hashes, on any machine.
- `--until-seq N` / `--until TIME`: the state as it was after sequence N (or
  the last event stored at or before TIME), built into a separate namespace:
  ClickHouse database `tessera_asof_<N>` (its usage tables hold the USAGE
  records stored by the time sequence N was, rated with the rate cards
  published up to N), snapshots `asof-<N>/<model>` (the
  gateway answers `?as_of=N` from them, and `tessera --as-of N ...` reads
  them through the same API and CLI).
Talks to the bus directly (like `tessera up`/`status`), not to the gateway.
The embedded ClickHouse (chdb) belongs to a running `tessera up`: with one
running, use `--no-clickhouse` (or a ClickHouse server, TESSERA_CLICKHOUSE_URL).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from typing import Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from gateway.commands.common import fail, handles_errors, stderr, stdout

CLICKHOUSE_URL = "TESSERA_CLICKHOUSE_URL"


@handles_errors
def replay(
    until_seq: Annotated[int | None, typer.Option("--until-seq", min=0, help="Rebuild the state after this sequence.")] = None,
    until: Annotated[str | None, typer.Option("--until", help="Rebuild the state at this time (ISO 8601 with zone).")] = None,
    from_snapshots: Annotated[bool, typer.Option("--from-snapshots", help="Start from stored snapshots + the tail.")] = False,
    clickhouse: Annotated[bool, typer.Option("--clickhouse/--no-clickhouse", help="Rebuild the ClickHouse tables too.")] = True,
    output: Annotated[str, typer.Option("--output", "-o", help="table, or json")] = "table",
) -> None:
    """Rebuild every read model (and ClickHouse table) from the log and print the state hashes."""
    from bus.settings import Settings
    from projections.timetravel import parse_as_of

    if until_seq is not None and until is not None:
        fail("give --until-seq or --until, not both (field: until)")
    try:
        target = parse_as_of(until) if until is not None else until_seq
    except ValueError as exc:
        fail(f"{exc} (field: until)")
    result = asyncio.run(_replay(Settings.load(), target, from_snapshots, clickhouse))
    if output == "json":
        stdout.print_json(json.dumps(result))
        return
    table = Table("read model", "position")
    table.add_column("state hash", overflow="fold")  # whole: hashes are compared by people and scripts
    for name, (position, digest) in result["hashes"].items():
        table.add_row(name, str(position), digest)
    stdout.print(table)
    stderr.print(f"replayed up to seq {result['seq']} in {result['seconds']:.1f} s "
                 f"({result['events_per_s']:,.0f} events/s); namespace {result['namespace']}", markup=False)


async def _replay(settings: Any, target: Any, from_snapshots: bool, clickhouse: bool) -> dict:
    from bus.connection import open_bus
    from gateway.http.fleet import FleetView
    from projections.identity import IdentityModel
    from projections.registry import Registry
    from projections.runner import ProjectionRunner
    from projections.snapshots import LIVE, SnapshotStore, restore_runner
    from projections.timetravel import asof_database, asof_namespace, resolve

    running = (settings.home / "nats" / "server.json").exists()
    bus = await open_bus(settings, name="tessera-replay", provision=False)
    lock = None
    try:
        end = (await bus.js.stream_info("EVT")).state.last_seq
        seq = None if target is None else min(await resolve(bus.nc, target), end)
        namespace = LIVE if seq is None else asof_namespace(seq)
        models = [Registry(), IdentityModel(), FleetView()]
        sink, ch = None, None
        if clickhouse:
            lock = _chdb_lock(settings)
            sink, ch = _sink(settings, "tessera" if seq is None else asof_database(seq))
        runner = ProjectionRunner(bus.nc, [*models, *([sink] if sink else [])])
        store = SnapshotStore(bus.js, replicas=settings.replicas)
        started = time.perf_counter()
        goal = end if seq is None else seq
        with Progress(TextColumn("replay"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=stderr, transient=True) as progress:
            task = progress.add_task("events", total=goal)
            if from_snapshots:
                await restore_runner(store, runner, until=seq)
                work = asyncio.create_task(runner.catch_up(until=seq))
            else:
                work = asyncio.create_task(runner.rebuild(until=seq))
            while not work.done():
                progress.update(task, completed=runner.position())
                await asyncio.wait({work}, timeout=0.1)
            position = work.result()
            progress.update(task, completed=position)
        usage = await _usage(bus.nc, ch, sink.db, seq) if sink is not None else None
        seconds = time.perf_counter() - started
        await store.save(models, namespace, covered=position)
        hashes = {m.name: (position, m.state_hash()) for m in models if hasattr(m, "state_hash")}
        if sink is not None:
            from projections.clickhouse import queries
            from projections.usage import queries as usage_queries

            hashes[f"clickhouse:{sink.db}"] = (position, await asyncio.to_thread(queries.table_digest, ch, sink.db))
            hashes[f"clickhouse:{sink.db}:usage"] = (usage, await asyncio.to_thread(usage_queries.table_digest, ch,
                                                                                      sink.db))
            ch.close()
        return {"seq": position, "namespace": namespace, "seconds": seconds,
                "events_per_s": position / seconds if seconds else 0.0, "hashes": hashes}
    finally:
        if running:
            bus.server = None  # the running platform's server: never ours to stop
        await bus.close()
        if lock is not None:
            os.close(lock)


async def _usage(nc: Any, ch: Any, database: str, seq: int | None) -> int:
    """The USAGE tables rebuilt in `database` (for a past state: the usage stored by the time of EVT `seq`,
    rated with the rate cards published up to `seq`); returns the USAGE position."""
    from projections.timetravel import usage_seq_at
    from projections.usage.service import UsageProjection

    usage_until = None if seq is None else await usage_seq_at(nc, seq)
    with stderr.status("replay: usage records"):
        return await UsageProjection(nc, ch, database=database).rebuild(until=seq, usage_until=usage_until)


def _chdb_lock(settings: Any) -> int | None:
    """The embedded ClickHouse is one process's: hold `tessera up`'s lock while using it."""
    if os.environ.get(CLICKHOUSE_URL):
        return None
    from gateway.platform import AlreadyRunning, lock_home

    try:
        return lock_home(settings.home)
    except AlreadyRunning:
        fail("a running `tessera up` holds the embedded ClickHouse: stop it, or replay with --no-clickhouse")


def _sink(settings: Any, database: str):
    from adapters.clickhouse import client
    from projections.clickhouse import ClickHouseSink

    ch = client(settings)
    return ClickHouseSink(ch, database=database).setup(), ch
