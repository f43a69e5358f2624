"""Reading an OpenAI request body: just enough to route, limit and meter it; the engine checks the rest.

`parse(endpoint, raw)` -> `InferenceRequest` or `BadRequest` naming the field
path (`param`, e.g. "messages[2].role") and the problem. Checked here: the body
is a JSON object, `model` a non-empty string, the endpoint's input present and
of the right kind (`messages` a non-empty list of objects with a string
`role`; `prompt` a string, list of strings or token ids; `input` likewise),
`stream` a boolean, `max_tokens`/`max_completion_tokens` a positive integer.
Every other field is forwarded untouched.

`prompt_estimate` is an upper-side guess of the prompt's tokens (a token per
4 bytes of text, per id of a token list, plus a few per chat message): the
rate limiter reserves it before the engine reports the real count.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from gateway.proxy.errors import BadRequest

ENDPOINTS = {"chat.completions": "messages", "completions": "prompt", "embeddings": "input"}
PATHS = {"chat.completions": "/v1/chat/completions", "completions": "/v1/completions",
         "embeddings": "/v1/embeddings"}


@dataclass(frozen=True)
class InferenceRequest:
    endpoint: str
    model: str
    body: dict
    stream: bool
    max_tokens: int | None
    prompt_estimate: int

    @property
    def path(self) -> str:
        return PATHS[self.endpoint]


def parse(endpoint: str, raw: bytes) -> InferenceRequest:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}", code="invalid_json") from None
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object", code="invalid_json")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise BadRequest("`model` is required: a non-empty string", param="model",
                         code="missing" if model is None else "invalid_type")
    field = ENDPOINTS[endpoint]
    estimate = _messages(body.get(field)) if field == "messages" else _text(field, body.get(field))
    stream = body.get("stream", False)
    if endpoint == "embeddings":
        stream = False
    elif not isinstance(stream, bool):
        raise BadRequest("`stream` must be a boolean", param="stream", code="invalid_type")
    return InferenceRequest(endpoint, model, body, stream, _max_tokens(body), estimate)


def _max_tokens(body: dict) -> int | None:
    found = None
    for name in ("max_tokens", "max_completion_tokens"):
        value = body.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise BadRequest(f"`{name}` must be a positive integer", param=name, code="invalid_value")
        found = value if found is None else min(found, value)
    return found


def _messages(messages) -> int:
    if messages is None:
        raise BadRequest("`messages` is required", param="messages", code="missing")
    if not isinstance(messages, list) or not messages:
        raise BadRequest("`messages` must be a non-empty list", param="messages", code="invalid_type")
    total = 0
    for n, message in enumerate(messages):
        if not isinstance(message, dict):
            raise BadRequest("each message must be an object", param=f"messages[{n}]", code="invalid_type")
        if not isinstance(message.get("role"), str):
            raise BadRequest("`role` is required: a string", param=f"messages[{n}].role", code="missing")
        total += 4 + _bytes(message.get("content")) // 4
    return total + 2


def _text(field: str, value) -> int:
    if value is None:
        raise BadRequest(f"`{field}` is required", param=field, code="missing")
    if isinstance(value, str):
        return len(value.encode()) // 4 + 1
    if isinstance(value, list) and value:
        total = 0
        for n, item in enumerate(value):
            if isinstance(item, str):
                total += len(item.encode()) // 4 + 1
            elif isinstance(item, int) and not isinstance(item, bool):
                total += 1
            elif isinstance(item, list) and all(isinstance(t, int) and not isinstance(t, bool) for t in item):
                total += len(item)
            else:
                raise BadRequest("must be a string or a list of token ids", param=f"{field}[{n}]",
                                 code="invalid_type")
        return total
    raise BadRequest(f"`{field}` must be a string or a non-empty list", param=field, code="invalid_type")


def _bytes(content) -> int:
    if content is None:
        return 0
    if isinstance(content, str):
        return len(content.encode())
    return len(orjson.dumps(content))  # multimodal parts: count the JSON, an over-estimate
