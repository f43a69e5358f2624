"""The placer's copy-on-write pass fleet decides exactly as `Fleet` does and leaves its original unchanged."""

from __future__ import annotations

import random

from bus.control.passfleet import CLONED, PassFleet
from bus.headers import original, parse_header_lines
from domains.allocation import Fleet, Placed, place, placed_event
from tests.factories.allocation import T0, job_queued, node_registered


def given(fleet: Fleet, seed: int) -> Fleet:
    rng = random.Random(seed)
    for n in range(40):
        fleet.apply(node_registered(f"n{n}", gpus=rng.choice((4, 8)), model=rng.choice(("H100", "A100"))))
    for k in range(120):
        fleet.apply(job_queued(f"j{k}", gpus=rng.choice((1, 1, 2, 4, 8)), gpu_model=rng.choice(("H100", "A100"))),
                    tenant=f"t{k % 3}")
    return fleet


def test_a_pass_on_the_pass_fleet_decides_as_on_fleet_and_changes_nothing():
    for seed in range(5):
        plain, cow = given(Fleet(), seed), given(PassFleet(), seed)
        for _ in range(3):  # passes with placements folded in between, as the placer runs them
            before = cow.snapshot()
            expected = place(plain, plain.queue(), now=T0)
            decided = place(cow, cow.queue(), now=T0)
            assert decided == expected
            assert cow.snapshot() == before == plain.snapshot()
            placed = [d for d in decided if isinstance(d, Placed)][:7]
            assert placed or seed  # the first fleet has room
            for decision in placed:
                plain.apply(placed_event(decision))
                cow.apply(placed_event(decision))
            assert cow.snapshot() == plain.snapshot()


def test_the_pass_fleet_knows_every_attribute_of_fleet():
    assert set(vars(Fleet())) == CLONED, "Fleet changed: PassFleet.clone must copy the new attribute"


def test_the_fast_header_parser_parses_like_nats_py():
    for raw in (b"Nats-Msg-Id: a\r\nNats-Expected-Last-Subject-Sequence: 7\r\n\r\n",
                b"bad name: 1\r\nok:\tv\r\n\xff: z\r\nx\x1cy: 2\r\nv: \xff\xfe\r\nnocolon\r\n: empty\r\n", b""):
        assert parse_header_lines(raw) == original(raw)
