"""Inference: model deployments, their replica slots, and autoscaling. Pure: no I/O, clock or randomness.

    state.py      DeploymentState, Replica, `evolve`, and `derive_status` (the lifecycle's one definition)
    decide.py     `decide(state, command, *, now)`: create, scale, stop, replica reports
    spec.py       cross-field spec rules (`problems`, `check`), the replica's JobSpec and job id
    autoscale.py  load -> desired replica count with hysteresis and cooldowns; `scale_command`
    errors.py     InvalidDeployment, DeploymentNotFound, DeploymentExists, DeploymentStopped

Lifecycle: requested -> placed -> serving -> degraded (-> serving again) and
stopped (terminal), derived from the replicas (state.py): serving = at least
`min_replicas` replicas reported ready by their agents. A replica is a job
placed by the existing allocator; the control plane's inference reactor
(bus/control/inference.py) submits and cancels those jobs and reports their
progress back as RecordReplicaState. Wire contract: schemas/inference.py.
"""

from domains.inference.autoscale import Load, Recommendation, recommend, scale_command
from domains.inference.decide import decide
from domains.inference.errors import (
    DeploymentExists,
    DeploymentNotFound,
    DeploymentStopped,
    InvalidDeployment,
)
from domains.inference.spec import check, problems, replica_job, replica_job_id
from domains.inference.state import (
    DeploymentState,
    Replica,
    derive_status,
    evolve,
    fold,
)

__all__ = [
    "DeploymentExists", "DeploymentNotFound", "DeploymentState", "DeploymentStopped", "InvalidDeployment", "Load",
    "Recommendation", "Replica", "check", "decide", "derive_status", "evolve", "fold", "problems", "recommend",
    "replica_job", "replica_job_id", "scale_command",
]
