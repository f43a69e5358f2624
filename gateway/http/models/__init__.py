"""The API's request and response bodies (the OpenAPI document's schemas), one module per area.

Responses mirror the read models' views (views.py converts); requests for
small commands are parsed by FastAPI with these models (spec uploads go
through bodies.py). Request models forbid unknown fields, like the schemas.
"""

from gateway.http.models.common import (
    Accepted,
    ErrorBody,
    ErrorDetail,
    Health,
    Page,
    ProblemOut,
    Request,
    WhoAmI,
)
from gateway.http.models.fleet import (
    ClusterDryRunOut,
    ClusterOut,
    NodeActionIn,
    NodeOut,
)
from gateway.http.models.identity import (
    ChangeRoleIn,
    CreateTenantIn,
    CreateTokenIn,
    CreateUserIn,
    TenantOut,
    TokenCreated,
    TokenOut,
    UserOut,
)
from gateway.http.models.insight import EventOut, LogLineOut, UsageOut, UsageRow
from gateway.http.models.work import (
    CancelIn,
    JobDetail,
    JobOut,
    PlacementOut,
    TaskOut,
    WorkflowDetail,
    WorkflowOut,
)

__all__ = [
    "Accepted", "CancelIn", "ChangeRoleIn", "ClusterDryRunOut", "ClusterOut", "CreateTenantIn", "CreateTokenIn",
    "CreateUserIn", "ErrorBody", "ErrorDetail", "EventOut", "Health", "JobDetail", "JobOut", "LogLineOut",
    "NodeActionIn", "NodeOut", "Page", "PlacementOut", "ProblemOut", "Request", "TaskOut", "TenantOut",
    "TokenCreated", "TokenOut", "UsageOut", "UsageRow", "UserOut", "WhoAmI", "WorkflowDetail", "WorkflowOut",
]
