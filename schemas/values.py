"""Value objects carried inside messages: frozen, no unknown fields, no wire type of their own."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints


class Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# Names that become NATS subject tokens (cluster, node, job ids): no dots, spaces or wildcards.
Token = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]+$", min_length=1, max_length=128)]
# Free-form but bounded label keys/values (Kubernetes-like).
LabelKey = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9]([A-Za-z0-9._/-]{0,126}[A-Za-z0-9])?$")]
LabelValue = Annotated[str, StringConstraints(max_length=256)]
Labels = dict[LabelKey, LabelValue]
NonNegative = Annotated[int, Field(ge=0)]


class WaitReason(Value):
    """Why something waits or was refused, machine-readable: `insufficient_gpus{model=H100, want=8, max_free=4}`."""

    code: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")]
    details: dict[str, str | int | float] = Field(default_factory=dict)

    def __str__(self) -> str:
        if not self.details:
            return self.code
        inner = ", ".join(f"{k}={v}" for k, v in self.details.items())
        return f"{self.code}{{{inner}}}"
