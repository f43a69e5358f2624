"""GET /v1/usage against real chdb: jobs run through the control plane, the ClickHouse projection
stores their usage, and the API's sums equal GPUs x (end - placement) computed from the jobs' own events."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from bus.commands import send
from bus.publish import Publisher
from projections.clickhouse.timestamps import gpu_seconds
from schemas import Envelope, derived_id
from schemas import jobs as j
from tests.e2e.conftest import (
    CLUSTER,
    Stack,
    clickhouse_stack,
    eventually,
    job_spec,
)


@pytest.fixture(scope="module")
def usage_api(tmp_path_factory):
    with clickhouse_stack(tmp_path_factory.mktemp("usage"), "usage") as (api, ch):
        yield api


def run_to_the_end(stack: Stack, tenant: str, job_id: str) -> None:
    """What an executor reports for a placed job: starting, running, exited 0."""
    publisher = Publisher(stack.bus.nc, stream="CMD")

    async def report() -> None:
        for step, cmd in (("starting", j.ReportJobStarting(job_id=job_id)), ("running", j.ReportJobRunning(job_id=job_id)),
                          ("exited", j.ReportJobExited(job_id=job_id, exit_code=0))):
            await send(publisher, Envelope.for_command(cmd, tenant=tenant, actor="executor:test", source="/tests",
                                                       time=datetime.now(UTC), id=derived_id(job_id, step)))
            await asyncio.sleep(0.05)

    stack.call(report())


def billed(client, job_id: str) -> tuple[str, Decimal]:
    """(tenant, GPU-seconds) of a finished job, from its own events: GPUs x (succeeded - placed)."""
    events = client.get(f"/v1/jobs/{job_id}/events").json()["items"]
    placed = next(e for e in events if e["type"].endswith("job_placed.v1"))
    ended = next(e for e in events if e["type"].endswith("job_succeeded.v1"))
    gpus = sum(len(p["gpu_indices"]) for p in placed["data"]["placements"])
    at = datetime.fromisoformat
    return client.get(f"/v1/jobs/{job_id}").json()["tenant"], gpu_seconds(gpus, at(placed["time"]), at(ended["time"]))


@pytest.fixture(scope="module")
def finished(usage_api):
    api = usage_api
    assert api.admin.post("/v1/clusters", json=CLUSTER).status_code == 202
    runs = [("acme", api.user("acme", "ann", "member"), 1), ("acme", None, 2),
            ("globex", api.user("globex", "gus", "member"), 4)]
    owner = {}
    expected: dict[str, tuple[str, Decimal]] = {}
    for tenant, client, gpus in runs:
        client = client or owner[tenant]
        owner[tenant] = client
        id = client.post("/v1/jobs", json=job_spec(f"bill-{gpus}", gpus=gpus)).json()["id"]
        eventually(lambda c=client, id=id: c.get(f"/v1/jobs/{id}").json()["status"] == "placed")
        run_to_the_end(api.stack, tenant, id)
        eventually(lambda c=client, id=id: c.get(f"/v1/jobs/{id}").json()["status"] == "succeeded")
        expected[id] = billed(api.admin, id)
    eventually(lambda: len(api.admin.get("/v1/usage", params={"group_by": "job"}).json()["items"]) == 3, timeout=20)
    return owner, expected


def test_usage_per_job_equals_gpus_times_runtime(usage_api, finished):
    _, expected = finished
    items = usage_api.admin.get("/v1/usage", params={"group_by": "job"}).json()["items"]
    assert {i["key"]: Decimal(i["gpu_seconds"]) for i in items} == {id: s for id, (_, s) in expected.items()}
    assert all(i["jobs"] == 1 for i in items)


def test_usage_per_tenant_model_and_day(usage_api, finished):
    _, expected = finished
    per_tenant: dict[str, Decimal] = defaultdict(Decimal)
    for tenant, seconds in expected.values():
        per_tenant[tenant] += seconds
    by_tenant = usage_api.admin.get("/v1/usage", params={"group_by": "tenant"}).json()
    assert {i["key"]: Decimal(i["gpu_seconds"]) for i in by_tenant["items"]} == per_tenant
    total = sum(per_tenant.values())
    by_model = usage_api.admin.get("/v1/usage", params={"group_by": "gpu_model"}).json()["items"]
    assert [(i["key"], Decimal(i["gpu_seconds"]), i["jobs"]) for i in by_model] == [("H100", total, 3)]
    by_day = usage_api.admin.get("/v1/usage", params={"group_by": "day"}).json()["items"]
    assert sum(Decimal(i["gpu_seconds"]) for i in by_day) == total
    assert by_day[-1]["key"] == datetime.now(UTC).date().isoformat()


def test_a_member_sees_only_its_tenants_usage(usage_api, finished):
    owner, expected = finished
    mine = owner["acme"].get("/v1/usage", params={"group_by": "job"}).json()
    assert mine["tenant"] == "acme"
    assert {i["key"] for i in mine["items"]} == {id for id, (t, _) in expected.items() if t == "acme"}
    assert owner["acme"].get("/v1/usage", params={"tenant": "globex"}).status_code == 403


def test_filters_by_job_and_period(usage_api, finished):
    _, expected = finished
    id, (_, seconds) = next(iter(expected.items()))
    one = usage_api.admin.get("/v1/usage", params={"group_by": "job", "job": id}).json()["items"]
    assert [(i["key"], Decimal(i["gpu_seconds"])) for i in one] == [(id, seconds)]
    before = usage_api.admin.get("/v1/usage", params={"to": "2020-01-01T00:00:00Z"}).json()["items"]
    assert before == []
