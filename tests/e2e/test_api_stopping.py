"""A gateway that stops answers the commands still waiting for their outcome with 202 "pending" at once.

The control plane is stopped first, so a write waits for an outcome that does
not come (its whole `command_timeout`, here 60 s); stopping the gateway must
end that wait with the documented "pending" answer (the command is on CMD and
will be handled), well before uvicorn's 5 s graceful-shutdown limit would cut
the connection.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from tests.e2e.conftest import FAST, eventually, job_spec, replace


def cmd_last_seq(stack) -> int:
    return stack.call(stack.bus.js.stream_info("CMD")).state.last_seq


def test_a_stopping_gateway_answers_waiting_commands_pending(api):
    stack = api.stack
    member = api.user("stopco", "sam", "member")
    token = member.headers["Authorization"].removeprefix("Bearer ")
    replica = stack.gateway(replace(FAST, command_timeout=60.0))
    stack.call(stack.plane.stop())  # nobody handles commands now: a write waits its whole timeout
    client = stack.client(token, url=replica.url)
    sent_before = cmd_last_seq(stack)
    with ThreadPoolExecutor(1) as pool:
        posting = pool.submit(client.post, "/v1/jobs", json=job_spec("waits"))
        eventually(lambda: cmd_last_seq(stack) > sent_before)  # the command is on CMD: the request waits
        time.sleep(0.2)
        assert not posting.done()
        started = time.monotonic()
        stack.call(replica.stop())
        r = posting.result(15)
    elapsed = time.monotonic() - started
    assert r.status_code == 202, r.text
    assert r.json()["status"] == "pending" and r.json()["link"].startswith("/v1/jobs/")
    assert elapsed < 3.0, f"the answer took {elapsed:.1f} s"
    client.close()
