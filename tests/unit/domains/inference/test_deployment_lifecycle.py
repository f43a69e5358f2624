"""The deployment lifecycle: requested -> placed -> serving -> degraded, stopped; replicas as jobs."""

from __future__ import annotations

import pytest

from domains.errors import Conflict, IllegalTransition, NotFound
from domains.inference import DeploymentState, decide, replica_job_id
from schemas import inference as inf
from tests.factories.inference import (
    DEP,
    T0,
    History,
    create,
    dspec,
    job,
    lost,
    ready,
    requested,
    scale,
    statuses,
    types,
)


def test_creating_schedules_one_job_per_initial_replica_with_deterministic_ids():
    events = requested(replicas=2)
    assert types(events) == ["DeploymentRequested", "ReplicaScheduled", "ReplicaScheduled"]
    first, second = events[1:]
    assert [(e.replica, e.generation) for e in (first, second)] == [(0, 1), (1, 2)]
    assert first.job_id == replica_job_id(DEP, 0, 1) == requested(replicas=2)[1].job_id
    assert first.job_id != second.job_id


def test_a_replica_job_runs_the_agent_on_the_deployments_gpus_and_is_labelled():
    job_spec = requested(engine_args=["--max-model-len", "4096"], pool="inference")[1].job
    assert job_spec.command == ["tessera", "agent"]
    assert job_spec.args == ["--deployment", DEP, "--replica", "0", "--generation", "1",
                             "--model", "meta-llama/Llama-3.1-8B-Instruct", "--engine", "vllm",
                             "--max-concurrent", "8", "--", "--max-model-len", "4096"]
    assert (job_spec.gpus, job_spec.gpu_model, job_spec.pool) == (1, "H100", "inference")
    assert job_spec.labels["deployment"] == DEP and job_spec.labels["replica"] == "0"
    assert (job_spec.on_node_lost, job_spec.max_retries) == ("reschedule", 0)


def test_initial_replicas_default_to_min_replicas():
    events = requested(replicas=None, min_replicas=3, max_replicas=5)
    assert events[0].replicas == 3 and types(events).count("ReplicaScheduled") == 3


def test_creating_a_taken_id_is_a_conflict():
    with pytest.raises(Conflict) as error:
        History(requested()).when(create())
    assert error.value.field == "deployment_id"


@pytest.mark.parametrize("command", [scale(2), inf.StopDeployment(deployment_id=DEP), job(0, 1, "placed"),
                                     ready(0, 1), lost(0, 1)])
def test_commands_for_a_deployment_never_created_are_not_found(command):
    with pytest.raises(NotFound) as error:
        decide(DeploymentState(), command, now=T0)
    assert error.value.field == "deployment_id"


def test_placed_once_min_replicas_have_a_node_then_serving_once_min_replicas_are_ready():
    log = History(requested(min_replicas=2, replicas=3))
    assert log.state.status == "requested"
    assert statuses(log.run(job(0, 1, "placed"))) == []
    assert statuses(log.run(job(1, 2, "placed"))) == ["placed"]
    assert statuses(log.run(job(0, 1, "running"), ready(0, 1, endpoint="10.0.0.1:8000"))) == []
    then = log.when(ready(1, 2))
    assert types(then) == ["ReplicaReady", "DeploymentStatusChanged"]
    assert (then[-1].status, then[-1].previous, then[-1].ready, then[-1].desired) == ("serving", "placed", 2, 3)
    assert log.state.replicas[0].endpoint == "10.0.0.1:8000"


def test_a_failing_replica_job_degrades_the_deployment_and_is_replaced_with_a_new_generation():
    log = History(requested(replicas=2))
    log.run(job(0, 1, "placed"), job(1, 2, "placed"))
    then = log.when(job(0, 1, "failed", exit_code=1, reason="CUDA out of memory"))
    assert types(then) == ["ReplicaFailed", "ReplicaScheduled", "DeploymentStatusChanged"]
    assert then[0].reason == "job failed (exit code 1, CUDA out of memory)"
    assert (then[1].replica, then[1].generation, then[1].restarts) == (0, 3, 1)
    assert (then[2].previous, then[2].status) == ("placed", "degraded")


def test_a_replica_uses_up_its_restarts_and_then_stays_failed():
    log = History(requested(replicas=1, max_restarts=1))
    assert types(log.when(job(0, 1, "preempted"))) == ["ReplicaFailed", "ReplicaScheduled",
                                                        "DeploymentStatusChanged"]
    assert types(log.when(job(0, 2, "rejected"))) == ["ReplicaFailed"]
    assert log.state.replicas[0].status == "failed" and log.state.status == "degraded"
    assert log.when(job(0, 2, "running")) == []  # a failed slot is not revived by job progress
    assert log.when(ready(0, 2)) == []


def test_losing_a_ready_replica_below_min_degrades_and_its_return_serves_again():
    log = History(requested(replicas=1))
    log.run(job(0, 1, "running"), ready(0, 1))
    assert log.state.status == "serving"
    assert statuses(log.when(lost(0, 1))) == ["degraded"]
    assert log.when(lost(0, 1)) == []
    assert log.when(job(0, 1, "running")) == []  # job progress does not make a lost replica routable
    assert statuses(log.when(ready(0, 1))) == ["serving"]


def test_serving_holds_while_min_replicas_stay_ready():
    log = History(requested(min_replicas=1, replicas=2))
    log.run(ready(0, 1), ready(1, 2))
    assert statuses(log.when(lost(1, 2))) == []
    assert log.state.status == "serving"


def test_a_requeued_replica_job_goes_back_to_pending_and_degrades_a_served_deployment():
    log = History(requested(replicas=1))
    log.run(job(0, 1, "running"), ready(0, 1))
    then = log.when(job(0, 1, "requeued", reason="node_lost{node=n1}"))
    assert [(e.status, e.reason) for e in then if isinstance(e, inf.ReplicaStateChanged)] == [
        ("pending", "node_lost{node=n1}")]
    assert statuses(then) == ["degraded"]


def test_job_progress_only_moves_forward_and_never_unreadies_a_replica():
    log = History(requested(replicas=1))
    log.run(job(0, 1, "running"))
    assert log.when(job(0, 1, "placed")) == []
    assert log.when(job(0, 1, "starting")) == []
    log.run(ready(0, 1))
    assert log.when(job(0, 1, "running")) == [] and log.when(ready(0, 1)) == []


def test_a_waiting_replica_records_why_once_per_reason():
    log = History(requested(replicas=1))
    then = log.when(job(0, 1, "waiting", reason="insufficient_gpus{model=H100}"))
    assert [(e.status, e.reason) for e in then] == [("pending", "insufficient_gpus{model=H100}")]
    assert log.when(job(0, 1, "waiting", reason="insufficient_gpus{model=H100}")) == []


def test_reports_of_another_generation_are_stale_and_change_nothing():
    log = History(requested(replicas=1))
    log.when(job(0, 1, "failed"))  # replaced by generation 2
    for stale in (job(0, 1, "running"), ready(0, 1), lost(0, 1), job(0, 7, "failed"), ready(3, 9)):
        assert log.when(stale) == []


def test_stopping_stops_every_replica_job_and_is_terminal():
    log = History(requested(replicas=2, max_restarts=0))
    log.run(job(0, 1, "failed"), job(1, 2, "running"), ready(1, 2))
    then = log.when(inf.StopDeployment(deployment_id=DEP, reason="done"))
    assert types(then) == ["DeploymentStopped", "ReplicaRemoved", "ReplicaStopping", "DeploymentStatusChanged"]
    assert then[2].job_id == replica_job_id(DEP, 1, 2) and then[-1].status == "stopped"
    assert log.when(inf.StopDeployment(deployment_id=DEP)) == []
    assert log.when(ready(1, 2)) == [] and log.when(job(1, 2, "running")) == []
    assert types(log.when(job(1, 2, "cancelled"))) == ["ReplicaRemoved"]
    assert log.state.stopping == () and log.state.replicas == ()
    with pytest.raises(IllegalTransition):
        log.when(scale(2))


def test_a_spec_built_without_validation_is_still_refused_by_the_domain():
    bad = dspec().model_copy(update={"max_replicas": 0})
    with pytest.raises(Exception) as error:
        decide(DeploymentState(), inf.CreateDeployment.model_construct(deployment_id=DEP, spec=bad), now=T0)
    assert error.value.code == "invalid" and error.value.field == "spec.max_replicas"
