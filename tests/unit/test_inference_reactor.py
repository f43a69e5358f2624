"""The inference reactor, pure: deployment events -> job commands, replica job events -> RecordReplicaState."""

from __future__ import annotations

import itertools

from bus.control.deciders import all_deciders
from bus.control.inference import Inference
from schemas import Command, Envelope, event_id
from schemas import inference as inf
from schemas import jobs as j
from schemas.values import WaitReason
from tests.factories.inference import DEP, T0, dspec, scheduled

_COUNT = itertools.count(1)


def env(event, tenant: str = "acme") -> Envelope:
    aggregate = "job" if isinstance(event, j.Event) else "deployment"
    cause = f"cause-{next(_COUNT)}"
    return Envelope(specversion="1.0", id=event_id(cause, 0), source="/tests", type=event.TYPE, time=T0,
                    tenant=tenant, actor="test", correlationid=cause, causationid=cause, data=event,
                    aggregate=aggregate, aggregateid="x", version=1)


def feed(reactor: Inference, event, tenant: str = "acme") -> list:
    e = env(event, tenant)
    reactor.apply(e)
    return list(reactor.react(e))


def test_a_scheduled_replica_is_submitted_as_its_job_and_a_stopping_one_cancelled():
    reactor, event = Inference(), scheduled(dspec(), 0, 1)
    assert feed(reactor, event) == [("acme", j.SubmitJob(job_id=event.job_id, spec=event.job))]
    stopping = inf.ReplicaStopping(deployment_id=DEP, replica=0, generation=1, job_id=event.job_id, reason="down")
    assert feed(reactor, stopping) == [("acme", j.CancelJob(job_id=event.job_id, reason="down"))]


def test_replica_job_events_are_reported_to_the_deployment_and_other_jobs_ignored():
    reactor, event = Inference(), scheduled(dspec(), 1, 2)
    feed(reactor, event)
    job = event.job_id
    reports = [feed(reactor, e) for e in (
        j.JobAdmitted(job_id=job), j.JobUnschedulable(job_id=job, reason=WaitReason(code="insufficient_gpus")),
        j.JobPlaced(job_id=job, placements=[j.Placement(cluster="c1", node="n1", gpu_indices=[0])]),
        j.JobRunning(job_id=job), j.JobFailed(job_id=job, exit_code=2, reason="oom"))]
    assert reports[0] == []
    assert [(r[0][1].state, r[0][1].reason, r[0][1].exit_code) for r in reports[1:]] == [
        ("waiting", "insufficient_gpus", None), ("placed", "", None), ("running", "", None), ("failed", "oom", 2)]
    assert {(r[0][0], r[0][1].deployment_id, r[0][1].replica, r[0][1].generation) for r in reports[1:]} == {
        ("acme", DEP, 1, 2)}
    assert feed(reactor, j.JobRunning(job_id="someone-elses")) == []
    assert feed(reactor, j.JobRunning(job_id=job), tenant="beta") == []  # same id, other tenant: not ours


def test_a_job_that_already_ended_is_not_cancelled_and_a_finished_replica_is_forgotten():
    reactor, event = Inference(), scheduled(dspec(), 0, 1)
    feed(reactor, event)
    feed(reactor, j.JobFailed(job_id=event.job_id))
    stopping = inf.ReplicaStopping(deployment_id=DEP, replica=0, generation=1, job_id=event.job_id)
    assert feed(reactor, stopping) == []
    feed(reactor, inf.ReplicaRemoved(deployment_id=DEP, replica=0, generation=1))
    assert reactor.replicas == {} and reactor.ended == set()


def test_every_inference_and_api_key_command_has_exactly_one_decider():
    from schemas import identity as i

    handled = [c for d in all_deciders() for c in d.commands]
    ours = {obj for module in (inf, i) for obj in vars(module).values()
            if isinstance(obj, type) and issubclass(obj, Command) and obj is not Command}
    assert len(handled) == len(set(handled)) and ours <= set(handled)
