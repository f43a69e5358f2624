"""Deployment spec rules: every refusal names the field path, in the schema or in the domain."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from domains.inference import check, problems
from schemas import decode, encode
from schemas import inference as inf
from schemas.codec import DecodeError
from schemas.envelope import Envelope
from tests.factories.inference import T0, dspec


@pytest.mark.parametrize("changes,field", [
    ({"min_replicas": 3, "max_replicas": 2, "replicas": None}, "spec.max_replicas"),
    ({"replicas": 9}, "spec.replicas"),
    ({"engine": "vllm", "gpus": 0, "gpu_model": None}, "spec.gpus"),
    ({"engine": "cpu", "gpus": 1, "gpu_model": None}, "spec.gpus"),
    ({"engine": "cpu", "gpus": 0, "gpu_model": "H100"}, "spec.gpu_model"),
    ({"autoscale": inf.AutoscaleSpec(target_utilization=0.5, scale_down_utilization=0.5)},
     "spec.autoscale.scale_down_utilization"),
])
def test_cross_field_rules_name_the_field(changes, field):
    spec = dspec(**changes)
    assert problems(spec)[0][0] == field
    with pytest.raises(Exception) as error:
        check(spec)
    assert (error.value.code, error.value.field) == ("invalid", field)


def test_a_valid_spec_has_no_problems_and_a_cpu_deployment_needs_no_gpus():
    assert problems(dspec()) == []
    assert problems(dspec(engine="cpu", gpus=0, gpu_model=None, model="HuggingFaceTB/SmolLM2-135M-Instruct")) == []


@pytest.mark.parametrize("changes,loc", [
    ({"min_replicas": 0}, "min_replicas"),
    ({"engine": "tgi"}, "engine"),
    ({"max_concurrent_requests": 0}, "max_concurrent_requests"),
    ({"model": "bad model name"}, "model"),
    ({"name": "has.dot"}, "name"),
    ({"gpus": 65}, "gpus"),
])
def test_the_schema_refuses_out_of_range_fields_by_name(changes, loc):
    with pytest.raises(ValidationError) as error:
        dspec(**changes)
    assert error.value.errors()[0]["loc"][0] == loc


def test_a_malformed_create_on_the_wire_is_a_decode_error_at_the_field_path():
    env = Envelope.for_command(inf.CreateDeployment(deployment_id="d1", spec=dspec()), tenant="acme", actor="t", source="/tests",
                               time=T0)
    raw = encode(env).replace(b'"max_concurrent_requests":8', b'"max_concurrent_requests":-1')
    with pytest.raises(DecodeError) as error:
        decode(raw)
    assert error.value.field == "data.spec.max_concurrent_requests"
    assert decode(encode(env)).data == env.data
