"""Inference usage: one record per request the OpenAI-compatible proxy served (metering domain).

`InferenceRequestRecorded` travels on `USAGE` at `usage.<tenant>.inference`
in an envelope with aggregate `usage`, aggregateid = id = `request_id`,
version 1, actor `apikey:<tenant>/<key_id>`; the publish carries
`Nats-Msg-Id` = `request_id`, so a resent record is dropped by JetStream and
consumers dedupe on `request_id` beyond the duplicate window.

Token counts are the engine's own `usage` (prompt, completion), also for
streams (the proxy asks for `stream_options.include_usage` and reads the final
chunk). `outcome`:
- "ok": the engine answered and reported usage;
- "aborted": the client went away or the upstream broke mid-stream: the
  completion tokens are the content chunks already forwarded (one token per
  chunk, as vLLM and llama.cpp stream) and the prompt tokens the engine's if it
  sent them, else the proxy's estimate (`estimated` = true);
- "error": no replica answered, or the engine refused (tokens 0 unless reported).
A record is written for every request that passed authentication and limits,
including failed ones (latency and outcome matter to operators; cost only
counts tokens).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, Field, StringConstraints

from schemas.base import Event
from schemas.values import Token

Endpoint = Literal["chat.completions", "completions", "embeddings"]
Outcome = Literal["ok", "aborted", "error"]
Count = Annotated[int, Field(ge=0)]
ModelName = Annotated[str, StringConstraints(min_length=1, max_length=256)]


class InferenceRequestRecorded(Event):
    TYPE = "tessera.metering.inference_request_recorded.v1"
    request_id: Token
    tenant: Token
    key_id: Token
    model: ModelName
    endpoint: Endpoint
    stream: bool = False
    outcome: Outcome
    status: Annotated[int, Field(ge=100, le=599)]  # the HTTP status the client got
    prompt_tokens: Count = 0
    completion_tokens: Count = 0
    estimated: bool = False  # prompt_tokens is the proxy's estimate, not the engine's count
    deployment: Token | None = None  # the replica that served it (None: none did)
    replica: Annotated[int, Field(ge=0)] | None = None
    generation: Annotated[int, Field(ge=1)] | None = None
    attempts: Annotated[int, Field(ge=0)] = 1  # replicas tried
    start: AwareDatetime
    end: AwareDatetime
    latency_ms: Annotated[float, Field(ge=0)]
    first_token_ms: Annotated[float, Field(ge=0)] | None = None  # streams: time to the first content chunk

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens
