"""Pure converters: one USAGE record -> rows of `inference_requests` and `rated_usage`.

- `InferenceRequestRecorded` -> one `inference_requests` row, and one
  `rated_usage` row per token kind it used (`prompt_tokens`,
  `completion_tokens`: the billing domain's line kinds), quantity in tokens.
- `UsageRecorded` -> one `rated_usage` row: kind `gpu` (GPU-seconds of a GPU
  model) or `tokens` (tokens of a model).
Every row carries the record's stream sequence; times are the usage's start
(it picks the rate card and the period, as billing does), in whole
milliseconds. Other messages produce no rows.

Dedupe by record id: `Seen` holds the (tenant, id) keys already stored per
table; `rows_for` reads it and `mark` moves it (batch_rows does both over
a batch, so a duplicate inside one batch is dropped too). A batch works on
`seen.draft()`, which reads through to `seen` and adds to its own sets only:
a failed batch leaves `seen` as it was, and `draft.commit()` costs the
batch's size, not the history's. A record whose data
tenant differs from its envelope's is refused (ValueError: dead-lettered).
"""

from __future__ import annotations

from datetime import date, datetime

from domains.billing.periods import period_of
from projections.clickhouse.timestamps import ms
from projections.usage.rating import Rater, scaled
from schemas import Envelope
from schemas.metering import UsageRecorded
from schemas.usage import InferenceRequestRecorded

TOKEN_KINDS = (("prompt_tokens", "prompt_tokens"), ("completion_tokens", "completion_tokens"))


class Seen:
    __slots__ = ("_base", "records", "requests")

    def __init__(self, requests: set[str] | None = None, records: set[str] | None = None,
                 base: Seen | None = None) -> None:
        self.requests = requests if requests is not None else set()  # inference_requests: tenant/request_id
        self.records = records if records is not None else set()  # rated_usage: tenant/record_id
        self._base = base

    def has_request(self, k: str) -> bool:
        return k in self.requests or (self._base is not None and self._base.has_request(k))

    def has_record(self, k: str) -> bool:
        return k in self.records or (self._base is not None and self._base.has_record(k))

    def draft(self) -> Seen:
        return Seen(base=self)

    def commit(self) -> Seen:
        """This draft's keys added to the Seen it was drafted from; returns that one."""
        assert self._base is not None, "commit() of a Seen that is not a draft"
        self._base.requests |= self.requests
        self._base.records |= self.records
        return self._base


def key(tenant: str, record_id: str) -> str:
    return f"{tenant}/{record_id}"


def inference_row(seq: int, r: InferenceRequestRecorded) -> tuple:
    return (seq, r.request_id, ms(r.start), r.tenant, r.key_id, r.model, r.endpoint, int(r.stream), r.outcome,
            r.status, r.prompt_tokens, r.completion_tokens, int(r.estimated), r.deployment or "", r.attempts,
            r.latency_ms, r.first_token_ms)


_PERIOD_KEYS: dict[tuple[str, date], str] = {}  # (period kind, UTC day) -> period key: a day is in one period


def period_key(start: datetime, period: str) -> str:
    """`period_of(start, period).key`, memoised per UTC day (`start` is UTC: it comes from `ms`)."""
    k = (period, start.date())
    found = _PERIOD_KEYS.get(k)
    if found is None:
        found = period_of(start, period).key
        if len(_PERIOD_KEYS) < 100_000:
            _PERIOD_KEYS[k] = found
    return found


def rated_row(seq: int, rater: Rater, *, record_id: str, tenant: str, source: str, kind: str, item: str,
              quantity, unit: str, start, key_id: str = "", job_id: str = "", period: str = "monthly") -> tuple:
    if not isinstance(quantity, int):
        scaled(quantity, "quantity")  # fits Decimal(38, 9), or the record is refused (ints always fit)
    if start.tzinfo is None:
        period_of(start, period)  # refused as before (BillingError: dead-lettered)
    at = ms(start)
    return (seq, record_id, tenant, source, kind, item, key_id, job_id, at, period_key(at, period),
            quantity, unit, *rater.values(kind, item, quantity, unit, start))


def rows_for(env: Envelope, seq: int, seen: Seen, rater: Rater, period: str = "monthly") -> dict[str, list[tuple]]:
    e = env.data
    out: dict[str, list[tuple]] = {"inference_requests": [], "rated_usage": []}
    if not isinstance(e, (InferenceRequestRecorded, UsageRecorded)):
        return out
    if e.tenant != env.tenant:
        raise ValueError(f"data.tenant: {e.tenant!r} differs from the envelope's tenant {env.tenant!r}")
    if isinstance(e, InferenceRequestRecorded):
        k = key(e.tenant, e.request_id)
        if not seen.has_request(k):
            out["inference_requests"].append(inference_row(seq, e))
        if not seen.has_record(k):
            out["rated_usage"] = [
                rated_row(seq, rater, record_id=e.request_id, tenant=e.tenant, source="inference", kind=kind,
                          item=e.model, quantity=getattr(e, attr), unit="token", start=e.start, key_id=e.key_id,
                          period=period)
                for kind, attr in TOKEN_KINDS if getattr(e, attr) > 0]
        return out
    if not seen.has_record(key(e.tenant, e.record_id)):
        gpu = e.source == "gpu"
        out["rated_usage"].append(rated_row(
            seq, rater, record_id=e.record_id, tenant=e.tenant, source=e.source, kind="gpu" if gpu else "tokens",
            item=(e.gpu_model if gpu else e.model) or "", quantity=e.quantity, unit=e.unit, start=e.start,
            job_id=e.job_id or "", period=period))
    return out


def mark(env: Envelope, seen: Seen) -> None:
    """Record `env`'s id as stored in every table it has rows in (or would have had)."""
    e = env.data
    if isinstance(e, InferenceRequestRecorded):
        k = key(e.tenant, e.request_id)
        seen.requests.add(k)
        seen.records.add(k)
    elif isinstance(e, UsageRecorded):
        seen.records.add(key(e.tenant, e.record_id))


def batch_rows(todo, seen: Seen, rater: Rater, period: str = "monthly") -> dict[str, list[tuple]]:
    """Every table's rows for `todo` (envelope, seq) in order, moving `seen` past each record."""
    tables: dict[str, list[tuple]] = {"inference_requests": [], "rated_usage": []}
    for env, seq in todo:
        for table, rows in rows_for(env, seq, seen, rater, period).items():
            tables[table] += rows
        mark(env, seen)
    return tables
