"""encode/decode: round trips, rejection with a named field, upcasting old payloads."""

from __future__ import annotations

import pickle
import time
from datetime import datetime, timezone
from pathlib import Path

import orjson
import pytest
from pydantic import Field

from schemas import Command, DecodeError, Envelope, Event, decode, decode_data, encode
from schemas.registry import register_upcaster

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
FIXTURES = Path(__file__).parent.parent / "fixtures" / "schemas"


class OrderCodecWidget(Command):
    TYPE = "tessera.testing.order_codec_widget.v1"
    gpus: int = Field(gt=0)
    labels: dict[str, str] = {}


class CodecWidgetShipped(Event):
    TYPE = "tessera.testing.codec_widget_shipped.v1"
    at: datetime
    parts: list[int]


# codec_widget_ordered: v1 {"colour", "qty"} -> v2 {"color", "qty"} -> v3 adds
# "priority". Only v3 has a class; old versions live on as fixtures + upcasters.
class CodecWidgetOrdered(Event):
    TYPE = "tessera.testing.codec_widget_ordered.v3"
    color: str
    qty: int
    priority: int


def _v1_to_v2(payload: dict) -> dict:
    payload["color"] = payload.pop("colour")
    return payload


register_upcaster(
    "tessera.testing.codec_widget_ordered.v1", "tessera.testing.codec_widget_ordered.v2", _v1_to_v2
)
register_upcaster(
    "tessera.testing.codec_widget_ordered.v2",
    CodecWidgetOrdered.TYPE,
    lambda payload: {**payload, "priority": 0},
)


def command_env(**overrides) -> Envelope:
    kwargs = dict(tenant="acme", actor="alice", source="/gateway", time=T0, id="cmd-1")
    return Envelope.for_command(OrderCodecWidget(gpus=2, labels={"a": "b"}), **(kwargs | overrides))


def event_env() -> Envelope:
    event = CodecWidgetShipped(at=T0, parts=[1, 2])
    return Envelope.for_event(
        event, cause=command_env(), index=0,
        aggregate="widget", aggregateid="w-1", version=1, time=T0,
    )  # fmt: skip


def body(env: Envelope | None = None, **changes) -> bytes:
    obj = orjson.loads(encode(env or command_env()))
    for key, value in changes.items():
        if value is ...:
            obj.pop(key)
        else:
            obj[key] = value
    return orjson.dumps(obj)


def rejection(raw: bytes) -> DecodeError:
    with pytest.raises(DecodeError) as info:
        decode(raw)
    return info.value


# --- round trips ----------------------------------------------------------


@pytest.mark.parametrize("make", [command_env, event_env])
def test_round_trip_preserves_the_envelope(make):
    env = make()
    assert decode(encode(env)) == env


def test_wire_shape_is_structured_cloud_events():
    obj = orjson.loads(encode(command_env()))
    assert obj["specversion"] == "1.0"
    assert obj["time"] == "2026-01-02T03:04:05Z"
    assert obj["data"] == {"gpus": 2, "labels": {"a": "b"}}
    # Unset optional attributes are absent, not null.
    assert not {"causationid", "subject", "aggregate", "aggregateid", "version"} & obj.keys()


def test_event_attributes_are_on_the_wire():
    obj = orjson.loads(encode(event_env()))
    assert (obj["aggregate"], obj["aggregateid"], obj["version"]) == ("widget", "w-1", 1)
    assert obj["causationid"] == "cmd-1"


def test_encoding_is_deterministic():
    assert encode(event_env()) == encode(event_env())


def test_explicit_nulls_decode_like_absent_attributes():
    assert decode(body(causationid=None, subject=None)) == command_env()


# --- rejection ------------------------------------------------------------


@pytest.mark.parametrize("raw", [b"", b"{not json", b"\xff\xfe", b'{"a": 1'])
def test_malformed_bytes_are_rejected(raw):
    err = rejection(raw)
    assert err.field == "$" and "malformed JSON" in err.problem


@pytest.mark.parametrize("raw", [b"[]", b"1", b'"x"', b"null"])
def test_non_objects_are_rejected(raw):
    assert rejection(raw).field == "$"


@pytest.mark.parametrize("version", ["0.3", "1", 1.0, ..., None])
def test_wrong_specversion_is_rejected(version):
    assert rejection(body(specversion=version)).field == "specversion"


def test_unknown_type_is_rejected():
    err = rejection(body(type="tessera.testing.codec_nope.v1"))
    assert err.field == "type"
    assert err.problem == "unknown message type 'tessera.testing.codec_nope.v1'"


@pytest.mark.parametrize("type_value", [..., 7])
def test_missing_or_non_string_type_is_rejected(type_value):
    assert rejection(body(type=type_value)).field == "type"


def test_invalid_payload_names_the_field():
    err = rejection(body(data={"gpus": 0}))
    assert err.field == "data.gpus"
    assert str(err) == "data.gpus: Input should be greater than 0"


def test_nested_payload_errors_carry_the_full_path():
    assert rejection(body(data={"gpus": 1, "labels": {"a": 1}})).field == "data.labels.a"


def test_unknown_payload_field_is_named():
    err = rejection(body(data={"gpus": 1, "colour": "red"}))
    assert (err.field, err.problem) == ("data.colour", "Extra inputs are not permitted")


def test_unknown_envelope_attribute_is_named():
    assert rejection(body(colour="red")).field == "colour"


def test_missing_data_is_rejected():
    assert rejection(body(data=...)).field == "data"


def test_naive_time_is_rejected():
    assert rejection(body(time="2026-01-02T03:04:05")).field == "time"


def test_event_without_aggregate_is_rejected():
    assert rejection(body(event_env(), aggregate=...)).field == "aggregate"


def test_decode_error_is_a_picklable_value_error():
    err = DecodeError("data.gpus", "bad")
    assert isinstance(err, ValueError)
    copy = pickle.loads(pickle.dumps(err))
    assert (copy.field, copy.problem, str(copy)) == ("data.gpus", "bad", "data.gpus: bad")


# --- schema evolution -----------------------------------------------------


def test_stored_v1_payload_decodes_as_the_current_version():
    raw = (FIXTURES / "tessera.testing.codec_widget_ordered.v1.json").read_bytes()
    env = decode(raw)
    assert env.type == CodecWidgetOrdered.TYPE
    assert env.data == CodecWidgetOrdered(color="red", qty=3, priority=0)
    assert env.id == "5f0a1c9e-3b7d-5e2a-8c4f-1d2e3f4a5b6c"
    assert (env.aggregateid, env.version) == ("w-1", 1)


def test_decode_data_upcasts_and_reports_fields_relative_to_the_payload():
    old = {"colour": "blue", "qty": 1}
    assert decode_data("tessera.testing.codec_widget_ordered.v1", old).color == "blue"
    assert old == {"colour": "blue", "qty": 1}  # the caller's dict is not mutated
    with pytest.raises(DecodeError) as info:
        decode_data(OrderCodecWidget.TYPE, {"gpus": -1})
    assert info.value.field == "gpus"


def test_a_payload_the_upcaster_cannot_handle_is_a_decode_error():
    with pytest.raises(DecodeError) as info:
        decode_data("tessera.testing.codec_widget_ordered.v1", {"qty": 1})
    assert "cannot upcast" in info.value.problem


# --- hot path -------------------------------------------------------------


def test_decode_is_tens_of_microseconds():
    raw = encode(event_env())
    n = 2000
    start = time.perf_counter()
    for _ in range(n):
        decode(raw)
    per_message = (time.perf_counter() - start) / n
    assert per_message < 500e-6  # generous bound for slow CI; typically ~10-20 µs
