"""The control plane: the pure domains wired onto the log.

Commands on CMD are decided by the domains' aggregates; events on EVT are
answered by reactors with more commands (derived ids, tracked positions), so
a job goes submitted -> admitted -> queued -> placed ... without anyone but
the submitter and the executor sending a command. One concept per module:

    deciders   one `Decider` per aggregate (job, workflow, cluster, node, quota, ratecard)
    mirror     NodeRegistered/NodeRemoved of a cluster copied onto the node aggregate
    runner     ReactorRunner plus batching (`flush`), effects and a graceful stop
    ledger     quotas, GPUs held and GPU-hours per tenant, from events (admission's view)
    admission  JobSubmitted -> AdmitJob | RejectJob (domains.policy)
    quotas     concurrent-GPU quotas enforced around a placement pass
    placer     the allocation engine: PlaceJob / MarkUnschedulable / PreemptJob
    workflows  TaskReady -> SubmitJob; job life -> RecordTaskStarted/Exited; cancel -> CancelJob
    nodes      NodeLost / NodeDrainRequested -> ReportNodeLost for the jobs placed there
    timeouts   periodic sweep: CancelJob(timeout), CheckWorkflowTimeout
    dispatch   JobPlaced -> LaunchJob, ended runs -> StopJob, on EXEC for each cluster's executor
    metering   closed GPU usage intervals -> UsageRecorded on USAGE
    supervisor restart-on-crash tasks and timers
    settings   `ControlSettings`
    plane      `ControlPlane(bus, settings)`: all of the above in one process, start/stop
"""

from bus.control.deciders import all_deciders
from bus.control.plane import ControlPlane
from bus.control.settings import ControlSettings

__all__ = ["ControlPlane", "ControlSettings", "all_deciders"]
