"""D1 (RELIABILITY.md): the chaos run over the real pure domains.

Passes when no GPU is ever allocated twice, allocated <= capacity on every node
at every event, and every job ends in exactly one terminal state. The driver
(`sim.py`) checks its invariants after every event and raises
`InvariantViolation` naming the seed and step; these tests run it per seed,
print its ledger (`pytest -s`) and assert that the chaos really happened.

Domain gaps the run turned up (a late placement after a job ended, the
idempotency window filled by wait reasons, an ever-growing free index) were
fixed; their minimal given/when/then reproductions stay at the bottom.
"""

from __future__ import annotations

import pytest

from domains.scheduling.job_decide import decide
from domains.scheduling.job_state import JobState, already_applied, evolve_envelope
from schemas import jobs as j
from tests.chaos.sim import Config, ledger_text, run
from tests.factories import allocation as fa
from tests.factories import jobs as fj

RUNS = [
    pytest.param(Config(seed=1, jobs=3000), id="seed1-3000jobs-20nodes-binpack"),
    pytest.param(Config(seed=2, jobs=6000, nodes=40, mean_interarrival_s=6.0, policy="spread"),
                 id="seed2-6000jobs-40nodes-spread", marks=pytest.mark.slow),
    pytest.param(Config(seed=3, jobs=10000, nodes=32, mean_interarrival_s=8.0, redeliver_within_s=3600),
                 id="seed3-10000jobs-32nodes-hour-long-redelivery", marks=pytest.mark.slow),
]


@pytest.mark.parametrize("cfg", RUNS)
def test_chaos_run_never_gives_a_gpu_twice_and_ends_every_job_exactly_once(cfg):
    summary = run(cfg)  # raises InvariantViolation at the first broken invariant
    print("\n" + ledger_text(summary))
    counts, requeued = summary["counts"], summary["requeued"]
    assert summary["jobs submitted"] == sum(summary["terminal"].values()) == cfg.jobs
    assert set(summary["terminal"]) <= {"succeeded", "failed", "cancelled", "preempted", "rejected"}
    assert summary["placements"] > cfg.jobs // 2 and summary["gang placements"] > 0
    assert summary["preemptions"] > 0 and requeued["node_lost"] > 0 and requeued["exit_code"] > 0
    assert counts["node losses"] > 0 and counts["node drains"] > 0 and counts["jobs timed out"] > 0
    assert counts["redeliveries absorbed: already applied"] > 0
    assert counts["redeliveries absorbed: decided again, no effect"] > 0
    assert counts["events redelivered to the fleet"] > 0
    assert sum(summary["commands rejected as illegal"].values()) > 0


def test_the_same_seed_gives_the_same_run_and_another_seed_another():
    first, again = run(Config(seed=11, jobs=300)), run(Config(seed=11, jobs=300))
    other = run(Config(seed=12, jobs=300))
    assert first == again
    assert other["digest"] != first["digest"]


# --- domain gaps the run found, now fixed: kept as regressions --------------------------------
# (Out-of-order redelivery to the fleet is outside its contract: the placer feeds it in stream order
# through an ordered consumer, see domains/allocation/fleet.py; duplicates right after the original
# are absorbed and exercised by every seed above.)


def test_a_placement_redelivered_after_the_job_ended_holds_no_gpus():
    fleet = fa.fold(fa.node_registered("n1", gpus=8), fa.running("a", "n1", [0]), fa.job_succeeded("a"))

    fleet.apply(fa.job_placed("a", ("n1", [0])))  # the placement, redelivered late

    assert fleet.nodes["c1--n1"].allocs == {} and "a" not in fleet.running


def _decided(state: JobState, command: j.Command, cause: str) -> JobState:
    for index, event in enumerate(decide(state, command, now=fj.T0)):
        state = evolve_envelope(state, fj.envelope(event, cause=cause, index=index))
    return state


def test_a_place_command_redelivered_after_64_wait_reason_changes_is_not_applied_again():
    state = JobState()
    for index, event in enumerate(fj.history("queued", on_node_lost="reschedule")):
        state = evolve_envelope(state, fj.envelope(event, cause=f"given-{index}"))
    place = fj.place_job(fj.JOB, fj.placement("n1", (0,)))
    state = _decided(state, place, "place-1")
    state = _decided(state, fj.node_lost("n1"), "lost-1")  # requeued: queued again
    for n in range(64):
        state = _decided(state, j.MarkUnschedulable(job_id=fj.JOB, reason=fj.reason(max_free=n)), f"wait-{n}")

    redelivered_again = not already_applied(state, "place-1") and decide(state, place, now=fj.T0)

    assert not redelivered_again


def test_the_fleet_free_index_stays_bounded_however_many_jobs_came_and_went():
    fleet = fa.fold(fa.node_registered("n1", gpus=8))

    for n in range(1000):
        for event in [*fa.running(f"j{n}", "n1", [0]), fa.job_succeeded(f"j{n}")]:
            fleet.apply(event)

    entries = sum(len(heap) for heaps in fleet.index.buckets.values() for heap in heaps)
    assert entries <= 64
