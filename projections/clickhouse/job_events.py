"""`job_events`: one row per job lifecycle event, straight from the event (no state).

Row: (seq, time, tenant, job_id, type, status, gpu_model, gpus, nodes, reason,
exit_code). `type` is the event name from its wire type (`job_placed`),
`status` the job status the event leads to; `gpu_model`/`gpus` are filled
where the event carries them (submitted/queued: the spec's request, GPUs for
the whole gang; placed: the billed model and the GPUs taken), `nodes` on
placement (`<cluster>--<node>`), `reason` for waits, refusals, failures and
cancels. Events of other aggregates produce no rows.
"""

from __future__ import annotations

from projections.clickhouse.timestamps import ms
from projections.registry.jobs import STATUS
from schemas import Envelope
from schemas import fleet as f
from schemas import jobs as j


def to_rows(env: Envelope, seq: int) -> list[tuple]:
    e = env.data
    if not isinstance(e, (j.JobSubmitted, *STATUS)):
        return []
    status = "submitted" if isinstance(e, j.JobSubmitted) else STATUS[type(e)]
    model, gpus, nodes = "", 0, []
    if isinstance(e, (j.JobSubmitted, j.JobQueued)):
        model, gpus = e.spec.gpu_model or "", e.spec.gpus * e.spec.gang
    elif isinstance(e, j.JobPlaced):
        model, gpus = e.gpu_model or "", sum(len(p.gpu_indices) for p in e.placements)
        nodes = list(dict.fromkeys(f.node_id(p.cluster, p.node) for p in e.placements))
    reason = getattr(e, "reason", "")
    exit_code = e.exit_code if isinstance(e, j.JobFailed) else None
    return [(seq, ms(env.time), env.tenant, e.job_id, e.type_name(), status, model, gpus, nodes, str(reason),  # type: ignore[attr-defined]
             exit_code)]
