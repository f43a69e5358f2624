"""The inference domain's errors: what a rejected deployment command is dead-lettered with.

Codes are the shared ones the gateway maps to HTTP: `invalid` 422 (field =
the path inside the command, e.g. `spec.max_replicas`, `replicas`),
`not_found` 404, `conflict` 409, `illegal_transition` 409. Business outcomes
(a replica failed, the deployment degraded) are events, never these.
"""

from __future__ import annotations

from domains.errors import Conflict, DomainError, IllegalTransition, NotFound


class InvalidDeployment(DomainError):
    """A spec or replica count the rules refuse (cross-field rules the schema cannot express)."""


class DeploymentNotFound(NotFound):
    def __init__(self, deployment_id: str) -> None:
        super().__init__(f"no deployment {deployment_id!r}", field="deployment_id")


class DeploymentExists(Conflict):
    def __init__(self, deployment_id: str) -> None:
        super().__init__(f"deployment {deployment_id!r} already exists", field="deployment_id")


class DeploymentStopped(IllegalTransition):
    def __init__(self, deployment_id: str, command: str) -> None:
        super().__init__(f"{command}: deployment {deployment_id!r} is stopped", field="deployment_id")
