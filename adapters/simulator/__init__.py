"""The simulator compute backend: a fleet of simulated GPU nodes running simulated jobs.

    spec.py     the fleet spec's shapes (full and compact forms, simulation settings)
    fleet.py    `parse_fleet(text)` -> `Fleet`, or `FleetSpecError` with every problem's path
    dice.py     seeded run lengths and injected failures
    outbox.py   reports batched onto CMD
    cluster.py  `SimulatedCluster`: one cluster's Backend (GPU booking, timers, node loss, heartbeats)
    backend.py  `Simulator(nc, fleet)`: registration (chunked), executors, heartbeats
"""

from adapters.simulator.backend import Simulator, load_fleet
from adapters.simulator.fleet import Fleet, FleetSpecError, parse_fleet

__all__ = ["Fleet", "FleetSpecError", "Simulator", "load_fleet", "parse_fleet"]
