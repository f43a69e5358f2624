"""The control plane: the command consumer, the node mirror, the reactors and the timers, in one process.

`ControlPlane(bus, settings).start()` builds (nothing at import time):
- one eventsourcing `Runner` (own loop thread, own NATS connection) carrying the
  application recorder (aggregates: `AggregateStore`) and the tracking recorder
  (reactor positions, `trk.<name>` on EVT);
- the durable command consumer on CMD (`CommandHandler` over `all_deciders()`;
  `concurrent`: a fetched batch is decided together, in order per aggregate),
  then, once it has handled every command already on CMD (so the reactors start
  from a log with no decision of an earlier run still in flight; bounded by
  `drain_timeout`), the node mirror and the reactors (admission, placer,
  workflows, nodes, metering, timeouts, dispatch, inference, autoscaler), each in a `ControlRunner`;
- timers: the timeout sweep, the metering tick and the autoscaler's tick (once
  their reactor caught up; the autoscaler also watches discovery load), and
  storing the reactors' positions every `track_interval`;
- the heartbeat checker (health.py): healthy nodes silent past
  `heartbeat_timeout` get MarkNodeLost, checked every `health_interval`.
It also raises the process's cycle-collector threshold (`gc_threshold`, heap.py).

Supervision (supervisor.py): a component that crashes is logged and started
again, fresh (its view rebuilt from the log, reactions resuming after its
tracked position), after `restart_delay`; the others keep running.

`stop()` is graceful: each runner finishes its event in hand and stores its
position, the consumer finishes the batch in hand (handled and acked) and
unsubscribes, the timers stop, then the recorders close.

One control plane per log (the placer assumes it is the only one placing);
several processes would need the leader election DESIGN.md describes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from bus import headers
from bus.aggregates import AggregateStore
from bus.commands import command_consumer
from bus.connection import Bus
from bus.control.admission import Admission
from bus.control.autoscaler import Autoscaler, LoadBoard
from bus.control.bootstrap import IdentityBootstrap
from bus.control.deciders import all_deciders
from bus.control.hub import EventHub
from bus.control.dispatch import Dispatch
from bus.control.health import HealthChecker
from bus.control.heap import tune_collector
from bus.control.inference import Inference
from bus.control.metering import Meter
from bus.control.mirror import NodeMirror
from bus.control.nodes import Nodes
from bus.control.placer import Placer
from bus.control.runner import ControlRunner
from bus.control.settings import ControlSettings
from bus.control.supervisor import Supervisor
from bus.control.timeouts import Timeouts
from bus.control.workflows import Workflows
from bus.eventstore import (
    JetStreamApplicationRecorder,
    JetStreamTrackingRecorder,
    Runner,
    StoreConfig,
)
from bus.handler import CommandHandler

log = logging.getLogger("tessera.control")


class ControlPlane:
    def __init__(self, bus: Bus, settings: ControlSettings | None = None) -> None:
        self.bus = bus
        self.settings = settings or ControlSettings()
        self.runners: dict[str, ControlRunner] = {}
        self.consumer = None
        self._runner: Runner | None = None
        self._tasks = Supervisor(restart_delay=self.settings.restart_delay)
        self._expected = 0

    async def start(self) -> None:
        s, nc = self.settings, self.bus.nc
        headers.install()  # nats-py's header parsing was the top cost of following the log
        tune_collector(s.gc_threshold)  # the default collector spent a fifth of a busy plane's time (heap.py)
        self.hub = EventHub(nc)
        config = StoreConfig(replicas=self.bus.settings.replicas, duplicate_window=self.bus.settings.duplicate_window)
        self._runner = await asyncio.to_thread(Runner, self.bus.url, self.bus.settings, name="tessera-control")
        self.store = AggregateStore(JetStreamApplicationRecorder(self._runner, config), nc=nc)  # I/O on this loop
        self.tracking = JetStreamTrackingRecorder(self._runner, config)
        self.handler = CommandHandler(self.store, all_deciders(), clock=s.clock)
        self.consumer = command_consumer(nc, self.handler, durable=s.durable, backoff=s.backoff, concurrent=True)
        self._tasks.spawn("commands", self.consumer.run)
        await self._drained()
        factories = {
            "mirror": lambda: NodeMirror(self.store),
            "admission": Admission,
            "placer": lambda: Placer(s.policy),
            "workflows": Workflows,
            "nodes": Nodes,
            "metering": self._meter,
            "timeouts": lambda: Timeouts(nc),
            "dispatch": Dispatch,  # LaunchJob/StopJob on EXEC for the executors
            "identity-bootstrap": IdentityBootstrap,  # the bootstrap admin as a user and token aggregate
            "inference": Inference,  # deployment replicas as jobs, their job events back to the deployment
        }
        if s.autoscale_interval > 0:  # discovery load -> ScaleDeployment (autoscaler.py)
            factories["autoscaler"] = lambda: Autoscaler(nc, s.autoscale_interval)
        self._expected = len(factories)
        for name, make in factories.items():
            self._tasks.spawn(name, lambda name=name, make=make: self._run_reactor(name, make))
        self._tasks.every("sweep", s.sweep_interval, self._sweep)
        self._tasks.every("meter-tick", s.meter_tick, self._tick)
        self._tasks.every("positions", s.track_interval, self._store_positions)
        if s.autoscale_interval > 0:
            self.load = LoadBoard()
            self._tasks.spawn("autoscale-load", lambda: self.load.follow(nc))
            self._tasks.every("autoscale", s.autoscale_interval, self._autoscale)
        self._tasks.spawn("health", lambda: HealthChecker(  # silent nodes -> MarkNodeLost (health.py)
            nc, timeout=s.heartbeat_timeout, interval=s.health_interval, clock=s.clock).run())

    async def caught_up(self, timeout: float = 30.0) -> None:
        """Wait until every reactor has reached the head of EVT as it was when it started."""
        deadline = asyncio.get_running_loop().time() + timeout
        while len(self.runners) < self._expected or not all(r.caught_up.is_set() for r in self.runners.values()):
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError("the control plane's reactors did not catch up")
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        self._tasks.stopping.set()
        for runner in list(self.runners.values()):
            await runner.stop()
        if self.consumer is not None:
            with contextlib.suppress(asyncio.TimeoutError):  # not running (between restarts): nothing to wait for
                await asyncio.wait_for(self.consumer.stop(), 30.0)
        await self._tasks.stop()
        if getattr(self, "hub", None) is not None:
            await self.hub.close()
        if self._runner is not None:
            await asyncio.to_thread(self._runner.close)

    def _meter(self) -> Meter:
        return Meter(self.bus.nc, interval_s=self.settings.metering_interval_s)

    async def _run_reactor(self, name: str, make) -> None:
        reactor = make()
        if isinstance(reactor, Meter):
            await reactor.load_published()
        runner = ControlRunner(self.bus.nc, reactor, self.tracking, track_interval=self.settings.track_interval,
                               hub=self.hub)  # one read and decode of EVT for all reactors
        self.runners[name] = runner
        await runner.run()

    async def _sweep(self) -> None:
        runner = self.runners.get("timeouts")
        if runner is not None and runner.caught_up.is_set():
            await runner.reactor.sweep(self.settings.clock())

    async def _autoscale(self) -> None:
        runner = self.runners.get("autoscaler")
        if runner is not None and runner.caught_up.is_set():
            await runner.reactor.tick(self.settings.clock(), self.load)

    async def _store_positions(self) -> None:
        for runner in list(self.runners.values()):
            await runner.store_position()

    async def _tick(self) -> None:
        runner = self.runners.get("metering")
        if runner is not None and runner.caught_up.is_set():
            await runner.reactor.tick(self.settings.clock() - timedelta(seconds=self.settings.meter_grace))

    async def _drained(self) -> None:
        js = self.bus.nc.jetstream()
        deadline = asyncio.get_running_loop().time() + self.settings.drain_timeout
        while asyncio.get_running_loop().time() < deadline:
            with contextlib.suppress(Exception):
                info = await js.consumer_info("CMD", self.settings.durable)
                if info.num_pending == 0 and info.num_ack_pending == 0:
                    return
            await asyncio.sleep(0.05)
        log.warning("control plane: commands still pending after %ss; starting the reactors anyway",
                    self.settings.drain_timeout)
