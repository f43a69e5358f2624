"""JSON Schema export: one deterministic, valid schema file per registered type."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
from pydantic import BaseModel

from schemas import Command, Envelope, Event, all_types, encode
from schemas.export import export_json_schemas

T0 = datetime(2026, 1, 2, tzinfo=timezone.utc)


class ExportWidgetPart(BaseModel):
    serial: str


class BuildExportWidget(Command):
    TYPE = "tessera.testing.build_export_widget.v1"
    parts: list[ExportWidgetPart]


class ExportWidgetBuilt(Event):
    TYPE = "tessera.testing.export_widget_built.v1"
    size: int


def test_writes_one_file_per_registered_type(tmp_path: Path):
    paths = export_json_schemas(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{t}.json" for t in all_types()]
    assert paths == sorted(paths)
    assert tmp_path / f"{BuildExportWidget.TYPE}.json" in paths


def test_output_is_deterministic(tmp_path: Path):
    first = [p.read_bytes() for p in export_json_schemas(tmp_path / "a")]
    second = [p.read_bytes() for p in export_json_schemas(tmp_path / "b")]
    assert first == second


def test_each_schema_describes_the_envelope_of_its_type(tmp_path: Path):
    (path,) = export_json_schemas(tmp_path, [ExportWidgetBuilt.TYPE])
    schema = json.loads(path.read_text())
    assert schema["$id"] == schema["title"] == ExportWidgetBuilt.TYPE
    assert schema["properties"]["type"]["const"] == ExportWidgetBuilt.TYPE
    size = schema["properties"]["data"]["properties"]["size"]
    assert size == {"title": "Size", "type": "integer"}
    assert {"aggregate", "aggregateid", "version", "data", "time"} <= set(schema["required"])


def test_commands_have_no_event_only_attributes(tmp_path: Path):
    (path,) = export_json_schemas(tmp_path, [BuildExportWidget.TYPE])
    schema = json.loads(path.read_text())
    assert not {"aggregate", "aggregateid", "version"} & schema["properties"].keys()
    assert "ExportWidgetPart" in schema["$defs"]


def _encoded(env: Envelope) -> dict:
    return json.loads(encode(env))


def test_schemas_are_valid_and_accept_encoded_messages(tmp_path: Path):
    jsonschema = pytest.importorskip("jsonschema")
    paths = export_json_schemas(tmp_path)
    for path in paths:
        jsonschema.Draft202012Validator.check_schema(json.loads(path.read_text()))

    cmd = Envelope.for_command(
        BuildExportWidget(parts=[ExportWidgetPart(serial="s1")]),
        tenant="acme", actor="a", source="/gateway", time=T0, id="c1",
    )  # fmt: skip
    evt = Envelope.for_event(
        ExportWidgetBuilt(size=3), cause=cmd, index=0,
        aggregate="widget", aggregateid="w-1", version=1, time=T0,
    )  # fmt: skip
    for env in (cmd, evt):
        schema = json.loads((tmp_path / f"{env.type}.json").read_text())
        jsonschema.validate(_encoded(env), schema, cls=jsonschema.Draft202012Validator)
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(_encoded(env) | {"colour": 1}, schema)
