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

ROW_STATUS: dict[type, str] = {j.JobSubmitted: "submitted", **STATUS}  # the event types with a row
# per type, what the row needs: (type name, status, carries a spec, is a placement, has `reason`, is a failure)
_SHAPE = {cls: (cls.type_name(), status, cls in (j.JobSubmitted, j.JobQueued), cls is j.JobPlaced,
                "reason" in cls.model_fields, cls is j.JobFailed) for cls, status in ROW_STATUS.items()}


def to_rows(env: Envelope, seq: int) -> list[tuple]:
    e = env.data
    shape = _SHAPE.get(type(e))
    if shape is None:
        return []
    name, status, with_spec, placed, with_reason, failed = shape
    model, gpus, nodes = "", 0, []
    if with_spec:
        spec = e.spec  # type: ignore[attr-defined]
        model, gpus = spec.gpu_model or "", spec.gpus * spec.gang
    elif placed:
        model, gpus = e.gpu_model or "", sum(len(p.gpu_indices) for p in e.placements)  # type: ignore[attr-defined]
        nodes = list(dict.fromkeys(f.node_id(p.cluster, p.node) for p in e.placements))  # type: ignore[attr-defined]
    reason = str(e.reason) if with_reason else ""  # type: ignore[attr-defined]
    exit_code = e.exit_code if failed else None  # type: ignore[attr-defined]
    return [(seq, ms(env.time), env.tenant, e.job_id, name, status, model, gpus, nodes, reason,  # type: ignore[attr-defined]
             exit_code)]
