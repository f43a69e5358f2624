"""The local run's environment: user jobs never see the platform's credentials; platform components do."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from adapters.local.workdir import COMPONENT_LABEL, prepare
from schemas.compute import LaunchJob
from schemas.jobs import JobSpec, Placement

PLATFORM = {"TESSERA_NATS_URL": "nats://127.0.0.1:4222", "TESSERA_NATS_TOKEN": "s3cret"}


def order(labels: dict[str, str]) -> LaunchJob:
    spec = JobSpec(name="j", image="x", command=["tessera", "agent"], labels=labels, env={"A": "1"})
    return LaunchJob(tenant="acme", job_id="job-1", attempt=1, spec=spec,
                     placements=[Placement(cluster="local", node="n1", gpu_indices=[])])


def test_a_tenants_job_gets_its_own_env_and_never_the_platforms_credentials(tmp_path):
    env = prepare(tmp_path, "acme", order({"team": "ml"}), [], PLATFORM).env
    assert env["A"] == "1" and env["TESSERA_JOB_ID"] == "job-1"
    assert not {"TESSERA_NATS_URL", "TESSERA_NATS_TOKEN", "TESSERA_TENANT"} & env.keys()


def test_a_platform_component_joins_the_bus_as_its_tenant_with_tessera_on_path(tmp_path):
    env = prepare(tmp_path, "acme", order({COMPONENT_LABEL: "inference-agent"}), [], PLATFORM).env
    assert env["TESSERA_NATS_URL"] == PLATFORM["TESSERA_NATS_URL"] and env["TESSERA_NATS_TOKEN"] == "s3cret"
    assert env["TESSERA_TENANT"] == "acme"
    assert env["PATH"].split(os.pathsep)[0] == str(Path(sys.executable).parent)
