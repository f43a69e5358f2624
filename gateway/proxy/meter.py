"""What one request used, collected while it is served, turned into its usage record once.

A `Meter` starts when the request passed authentication and limits; the
handler and the stream relay tell it which replica served, the engine's
`usage` object(s), content chunks forwarded, and how it ended. `record()`
builds the `InferenceRequestRecorded`: the engine's counts when it reported
them; for a stream that ended early (client gone, upstream broke) the content
chunks forwarded as completion tokens and, lacking the engine's prompt count,
the proxy's estimate (`estimated`). `tokens` is what the limiter settles to.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from gateway.proxy.bodies import InferenceRequest
from schemas.usage import InferenceRequestRecorded


@dataclass
class Meter:
    request_id: str
    tenant: str
    key_id: str
    request: InferenceRequest
    start: datetime
    started: float = field(default_factory=time.perf_counter)
    outcome: str = "error"
    status: int = 503
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    chunks: int = 0  # content chunks forwarded (streams)
    first_token_ms: float | None = None
    deployment: str | None = None
    replica: int | None = None
    generation: int | None = None
    attempts: int = 0

    def served_by(self, entry) -> None:
        self.deployment, self.replica, self.generation = entry.deployment, entry.replica, entry.generation

    def usage(self, usage: dict | None) -> None:
        if not isinstance(usage, dict):
            return
        prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
        if isinstance(prompt, int) and prompt >= 0:
            self.prompt_tokens = prompt
        if isinstance(completion, int) and completion >= 0:
            self.completion_tokens = completion
        elif self.request.endpoint == "embeddings" and self.prompt_tokens is not None:
            self.completion_tokens = 0

    def chunk(self) -> None:
        if self.first_token_ms is None:
            self.first_token_ms = (time.perf_counter() - self.started) * 1000
        self.chunks += 1

    @property
    def estimated(self) -> bool:
        return self.prompt_tokens is None and self.outcome == "aborted"

    @property
    def tokens(self) -> int:
        return self._prompt() + self._completion()

    def _prompt(self) -> int:
        if self.prompt_tokens is not None:
            return self.prompt_tokens
        return self.request.prompt_estimate if self.outcome == "aborted" else 0

    def _completion(self) -> int:
        if self.completion_tokens is not None:
            return self.completion_tokens
        return self.chunks

    def fields(self) -> dict:
        """The usage record's fields as of now (the request ends now), in the schema's field order."""
        latency = (time.perf_counter() - self.started) * 1000
        return {"request_id": self.request_id, "tenant": self.tenant, "key_id": self.key_id,
                "model": self.request.model, "endpoint": self.request.endpoint, "stream": self.request.stream,
                "outcome": self.outcome, "status": self.status, "prompt_tokens": self._prompt(),
                "completion_tokens": self._completion(), "estimated": self.estimated, "deployment": self.deployment,
                "replica": self.replica, "generation": self.generation, "attempts": self.attempts,
                "start": self.start, "end": self.start + timedelta(milliseconds=latency),
                "latency_ms": round(latency, 3),
                "first_token_ms": None if self.first_token_ms is None else round(self.first_token_ms, 3)}

    def record(self) -> InferenceRequestRecorded:
        return InferenceRequestRecorded(**self.fields())
