"""The simulator's randomness, seeded: run lengths and injected failures. Only here, never in domains/.

One `random.Random(seed)` per simulator: the same fleet spec, seed and order
of launches draw the same durations and outcomes.
"""

from __future__ import annotations

import random
from typing import Literal

from adapters.simulator.spec import Simulation
from schemas.jobs import JobSpec

Outcome = Literal["succeed", "fail", "lose_node"]


class Dice:
    def __init__(self, simulation: Simulation) -> None:
        self.sim = simulation
        self.rng = random.Random(simulation.seed)

    def duration(self, spec: JobSpec) -> float:
        """Simulated seconds: the spec's `duration_s`, else a draw from the configured distribution."""
        if spec.duration_s is not None:
            return spec.duration_s
        d = self.sim.duration
        if d.distribution == "fixed":
            return d.seconds
        if d.distribution == "uniform":
            return self.rng.uniform(d.min_s, d.max_s)
        return self.rng.expovariate(1.0 / d.mean_s)

    def outcome(self) -> Outcome:
        roll = self.rng.random()
        if roll < self.sim.node_loss_probability:
            return "lose_node"
        if roll < self.sim.node_loss_probability + self.sim.job_failure_probability:
            return "fail"
        return "succeed"
