"""Message base classes, the registry, deterministic ids and the envelope rules."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from schemas import Command, Envelope, Event, all_types, derived_id, event_id, lookup
from schemas.base import Message, parse_type
from schemas.registry import UnknownMessageType, register, register_upcaster
from schemas.system import DeadLettered

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


class MakeSchemaWidget(Command):
    TYPE = "tessera.testing.make_schema_widget.v1"
    size: int


class SchemaWidgetMade(Event):
    TYPE = "tessera.testing.schema_widget_made.v1"
    size: int
    name: str = "w"  # a payload field may be called `name`


class AbstractSchemaEvent(Event):
    """No TYPE of its own: a base, not a wire type."""


def make_command(**overrides) -> Envelope:
    kwargs = dict(tenant="acme", actor="alice", source="/gateway", time=T0, id="cmd-1")
    return Envelope.for_command(MakeSchemaWidget(size=2), **(kwargs | overrides))


# --- messages and the registry -------------------------------------------


def test_concrete_messages_register_themselves_and_bases_do_not():
    assert lookup(MakeSchemaWidget.TYPE) is MakeSchemaWidget
    assert lookup(DeadLettered.TYPE) is DeadLettered
    assert MakeSchemaWidget.TYPE in all_types() and all_types() == sorted(all_types())
    assert not any(lookup(t) is AbstractSchemaEvent for t in all_types())


def test_type_parts_are_parsed_from_the_type_string():
    assert SchemaWidgetMade.type_domain() == "testing"
    assert SchemaWidgetMade.type_name() == "schema_widget_made"
    assert SchemaWidgetMade.schema_version() == 1
    assert parse_type("tessera.scheduling.job_submitted.v12") == ("scheduling", "job_submitted", 12)


@pytest.mark.parametrize(
    "bad",
    [
        "testing.widget.v1",
        "tessera.testing.widget",
        "tessera.testing.widget.v0",
        "tessera.Testing.widget.v1",
        "tessera.testing.widget-made.v1",
        "tessera.testing.widget__made.v1",
        "app.models.Widget",
    ],
)
def test_malformed_type_strings_are_rejected_at_class_creation(bad):
    with pytest.raises(ValueError, match="invalid message type"):
        type("Bad", (Event,), {"TYPE": bad, "__module__": __name__})


def test_a_second_class_cannot_take_an_existing_type():
    with pytest.raises(ValueError, match="already registered"):

        class Impostor(Event):
            TYPE = "tessera.testing.schema_widget_made.v1"


def test_registering_the_same_class_twice_is_harmless():
    assert register(MakeSchemaWidget) is MakeSchemaWidget


def test_a_message_must_be_a_command_or_an_event():
    with pytest.raises(TypeError, match="Command or Event"):

        class Neither(Message):
            TYPE = "tessera.testing.schema_neither.v1"


def test_lookup_of_an_unknown_type_raises():
    with pytest.raises(UnknownMessageType, match="tessera.testing.schema_nope.v1"):
        lookup("tessera.testing.schema_nope.v1")


def test_upcaster_types_are_validated():
    with pytest.raises(ValueError, match="invalid message type"):
        register_upcaster("not.a.type", "tessera.testing.schema_widget_made.v1", dict)


def test_messages_are_frozen():
    widget = MakeSchemaWidget(size=1)
    with pytest.raises(ValidationError, match="frozen"):
        widget.size = 3  # type: ignore[misc]


def test_extra_fields_are_forbidden_and_named():
    with pytest.raises(ValidationError) as info:
        MakeSchemaWidget(size=1, colour="red")
    assert info.value.errors()[0]["loc"] == ("colour",)


# --- deterministic ids ----------------------------------------------------


def test_event_ids_are_deterministic_per_command_and_index():
    assert event_id("cmd-1", 0) == event_id("cmd-1", 0)
    assert event_id("cmd-1", 0) != event_id("cmd-1", 1)
    assert event_id("cmd-1", 0) != event_id("cmd-2", 0)


def test_event_id_is_pinned_to_the_namespace():
    # Changing TESSERA_NAMESPACE would break dedupe against the existing log.
    assert event_id("cmd-1", 0) == "c4ea8e79-0012-5151-b7d8-abefaf6c76f8"


def test_derived_ids_are_stable_and_reject_ambiguous_parts():
    assert derived_id("allocation", "job-1") == derived_id("allocation", "job-1")
    assert derived_id("cmd-1", 0) == event_id("cmd-1", 0)
    with pytest.raises(ValueError):
        derived_id("a/b", "c")
    with pytest.raises(ValueError):
        derived_id()


# --- envelope -------------------------------------------------------------


def test_for_command_fills_the_cloud_events_attributes():
    env = make_command()
    assert (env.specversion, env.id, env.type) == ("1.0", "cmd-1", MakeSchemaWidget.TYPE)
    assert env.correlationid == "cmd-1"  # a new command starts its correlation
    assert env.causationid is None
    assert (env.aggregate, env.aggregateid, env.version) == (None, None, None)


def test_for_command_mints_an_id_only_when_none_is_given():
    assert make_command(id=None).id != make_command(id=None).id
    assert make_command(correlationid="corr").correlationid == "corr"


def test_for_event_derives_its_id_and_inherits_from_the_cause():
    cause = make_command(correlationid="corr-9")
    kwargs = dict(cause=cause, aggregate="widget", aggregateid="w-1", version=3, time=T0)
    first = Envelope.for_event(SchemaWidgetMade(size=2), index=0, **kwargs)
    again = Envelope.for_event(SchemaWidgetMade(size=2), index=0, **kwargs)
    second = Envelope.for_event(SchemaWidgetMade(size=2), index=1, **kwargs)
    assert first == again
    assert first.id == event_id("cmd-1", 0) != second.id
    assert (first.tenant, first.actor, first.correlationid, first.causationid) == (
        "acme",
        "alice",
        "corr-9",
        "cmd-1",
    )
    assert first.source == "/tessera/testing"


def test_events_require_their_aggregate_fields():
    with pytest.raises(ValidationError) as info:
        Envelope(
            specversion="1.0", id="e", source="s", type=SchemaWidgetMade.TYPE, time=T0,
            tenant="acme", actor="a", correlationid="c", data=SchemaWidgetMade(size=1),
            aggregate="widget", aggregateid="w-1",
        )  # fmt: skip
    assert info.value.errors()[0]["loc"] == ("version",)


def command_fields(**overrides) -> dict:
    fields = make_command().model_dump(exclude={"data"}) | {"data": MakeSchemaWidget(size=1)}
    return fields | overrides


def test_commands_must_not_carry_aggregate_fields():
    with pytest.raises(ValidationError) as info:
        Envelope(**command_fields(version=1))
    assert info.value.errors()[0]["loc"] == ("version",)


def test_type_must_match_the_payload():
    with pytest.raises(ValidationError, match="does not match payload type"):
        Envelope(**command_fields(type=SchemaWidgetMade.TYPE))


def test_naive_time_is_rejected_and_offsets_are_normalised_to_utc():
    with pytest.raises(ValidationError) as info:
        make_command(time=datetime(2026, 1, 1))
    assert info.value.errors()[0]["loc"] == ("time",)
    plus_two = datetime(2026, 1, 2, 5, 4, 5, tzinfo=timezone(timedelta(hours=2)))
    assert make_command(time=plus_two).time == T0
    assert make_command(time=plus_two).time.tzinfo is timezone.utc


@pytest.mark.parametrize("tenant", ["", "a.b", "a b", "*", ">", "a>"])
def test_tenant_must_be_a_subject_token(tenant):
    with pytest.raises(ValidationError):
        make_command(tenant=tenant)


def test_platform_tenant_is_a_valid_tenant():
    assert make_command(tenant="_platform").tenant == "_platform"


def test_envelopes_are_frozen_and_forbid_extras():
    env = make_command()
    with pytest.raises(ValidationError):
        env.tenant = "other"  # type: ignore[misc]
    with pytest.raises(ValidationError) as info:
        Envelope.model_validate(env.model_dump() | {"colour": "red"})
    assert info.value.errors()[0]["loc"] == ("colour",)


def test_model_validate_resolves_a_dict_payload_by_type():
    env = make_command()
    assert Envelope.model_validate(env.model_dump()) == env
