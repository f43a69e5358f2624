"""Usage records: closed intervals become USAGE payloads that survive the wire exactly."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from domains.metering import intervals_for, open_intervals_until, usage_record
from domains.metering.errors import MeteringError
from schemas import Envelope, decode, encode
from schemas.jobs import ReportJobExited
from schemas.metering import UsageRecorded
from tests.factories.metering import HOUR, TENANT, placed, submitted, succeeded, t


def test_a_closed_interval_is_recorded_as_gpu_seconds():
    history = [submitted(t(0)), placed(t(0.5), gpus=2), succeeded(t(10))]
    [interval] = intervals_for(history, tenant=TENANT, now=t(HOUR), interval_s=HOUR)
    record = usage_record(interval)
    assert (record.record_id, record.tenant, record.job_id, record.source) == (
        interval.record_id, TENANT, "j1", "gpu"
    )
    assert (record.gpu_model, record.gpus, record.quantity, record.unit) == ("H100", 2, Decimal("19.0"), "gpu_second")
    assert (record.start, record.end, record.attempt) == (t(0.5), t(10), 1)


def test_an_open_interval_is_never_recorded():
    [current] = open_intervals_until([submitted(t(0)), placed(t(0))], tenant=TENANT, now=t(60), interval_s=HOUR)
    with pytest.raises(MeteringError) as info:
        usage_record(current)
    assert info.value.field == "interval" and "still open" in info.value.message


def test_quantities_travel_as_exact_decimal_strings():
    history = [submitted(t(0)), placed(t(0), gpus=3), succeeded(t(0.000001))]
    [interval] = intervals_for(history, tenant=TENANT, now=t(HOUR), interval_s=HOUR)
    record = usage_record(interval)
    wire = record.model_dump(mode="json")
    assert wire["quantity"] == "0.000003"
    assert UsageRecorded.model_validate(wire) == record


def test_a_usage_record_survives_the_codec_byte_for_byte():
    history = [submitted(t(0)), placed(t(0)), succeeded(t(1.25))]
    [interval] = intervals_for(history, tenant=TENANT, now=t(HOUR), interval_s=HOUR)
    cause = Envelope.for_command(
        ReportJobExited(job_id="j1", exit_code=0),
        tenant=TENANT, actor="metering", source="/metering", time=t(2), id="cmd-1",
    )
    env = Envelope.for_event(usage_record(interval), cause=cause, index=0, aggregate="usage",
                             aggregateid="j1", version=1, time=t(2))
    assert decode(encode(env)) == env


def test_a_float_quantity_is_refused():
    with pytest.raises(ValidationError) as info:
        UsageRecorded(record_id="r", tenant=TENANT, source="gpu", quantity=1.5, unit="gpu_second",
                      start=t(0), end=t(1))
    assert info.value.errors()[0]["loc"] == ("quantity",)


def test_a_usage_record_cannot_end_before_it_starts():
    with pytest.raises(ValidationError, match="before start"):
        UsageRecorded(record_id="r", tenant=TENANT, source="gpu", quantity="1", unit="gpu_second",
                      start=t(1), end=t(0))
