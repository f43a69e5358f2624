"""Errors of the scheduling domain: invalid requests, each naming a field path and a stable code.

A consumer dead-letters them and the gateway maps them to 4xx; none of them
is a business outcome (those are events, e.g. `JobUnschedulable`).
"""

from __future__ import annotations

from domains.errors import Conflict, DomainError, IllegalTransition, NotFound


class JobNotFound(NotFound):
    """A command for a job that was never submitted."""

    def __init__(self, job_id: str, command: str) -> None:
        super().__init__(f"{command}: job {job_id!r} does not exist", field="job_id")
        self.command = command


class JobIllegalTransition(IllegalTransition):
    """A command the job's current status does not allow; names both."""

    def __init__(self, job_id: str, status: str, command: str, allowed: frozenset[str]) -> None:
        expected = " or ".join(sorted(allowed)) or "no status"
        super().__init__(
            f"{command}: job {job_id!r} is {status}, expected {expected}", field="status"
        )
        self.status = status
        self.command = command


class JobExists(Conflict):
    """A submission that reuses a job id for a different submission."""

    code = "job_exists"


class WrongJob(DomainError):
    """A command routed to another job's state: a handler bug, never applied."""

    code = "wrong_job"


class InvalidPlacement(DomainError):
    """A placement that does not fit the job's spec; lists every problem with its path."""

    code = "invalid_placement"

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__(
            "; ".join(f"{path}: {problem}" for path, problem in problems), field=problems[0][0]
        )
        self.problems = problems


class NotPreemptible(DomainError):
    code = "not_preemptible"


class InvalidSubmission(DomainError):
    code = "invalid_submission"
