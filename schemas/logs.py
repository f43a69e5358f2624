"""Log lines of a job's processes: the body of every message on the LOG stream.

Subject `log.<tenant>.<job_id>.<task>` (task = the workflow task's name, or
"main" for a job outside a workflow); body = the JSON of one `LogLine`. Not an
envelope: log lines are output, not commands or events, and are read in bulk.

`attempt` is the job's run number (1-based, every placement starts a new one),
so the lines of a rescheduled job's runs can be told apart.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime

from schemas.values import Token, Value

MAIN_TASK = "main"
LogStream = Literal["stdout", "stderr"]


class LogLine(Value):
    job_id: Token
    attempt: int
    stream: LogStream
    line: str
    time: AwareDatetime
