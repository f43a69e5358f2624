"""The HTTP client the CLI speaks to the gateway with (sync httpx; one request per call).

Guarantees:
- Configuration: `$TESSERA_HOME/cli.json` ({"url", "token"}; TESSERA_HOME defaults to
  ./.tessera), then TESSERA_URL / TESSERA_TOKEN override each field separately.
- Every non-2xx answer becomes a `ClientError(status, code, message, field)` read from the
  API's JSON error body ({"error": {...}}); a body that is not that shape still becomes a
  ClientError naming the HTTP status. Spec problems listed by the server are kept in
  `.problems` so the caller can print every one.
- A gateway that does not answer (refused, DNS, timeout on connect) is `GatewayUnreachable`
  with a one-line hint, never an httpx traceback.
- 429 is retried after its Retry-After (at most a few seconds, three times), then reported.
- `pages()` walks `next_cursor` until it is null; `stream()` yields Server-Sent Events.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

DEFAULT_HOME = ".tessera"
CONFIG_FILE = "cli.json"
_RETRIES_ON_429 = 3
_MAX_RETRY_AFTER_S = 5.0


@dataclass(frozen=True)
class SseEvent:
    event: str = "message"
    data: str = ""
    id: str | None = None

    def json(self) -> Any:
        return json.loads(self.data) if self.data else None


def parse_sse(lines: Iterable[str]) -> Iterator[SseEvent]:
    """Server-Sent Events from text lines (the WHATWG rules the CLI needs).

    `event:`/`data:`/`id:` fields, one optional space after the colon, several `data:` lines
    joined with newlines, `:` comments ignored, an event dispatched at each blank line (and
    at the end of the stream if one is pending); a block without data is not an event.
    """
    event, data, last_id = "", [], None
    for raw in lines:
        line = raw.rstrip("\r\n")
        if not line:
            if data:
                yield SseEvent(event or "message", "\n".join(data), last_id)
            event, data = "", []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            event = value
        elif name == "data":
            data.append(value)
        elif name == "id":
            last_id = value
    if data:
        yield SseEvent(event or "message", "\n".join(data), last_id)


OPTIONS = {"tenant": "--tenant", "header.X-Tessera-Tenant": "--tenant"}  # API fields the CLI sets with an option


class ClientError(Exception):
    """An answer the gateway refused with (or could not be reached for)."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None,
                 problems: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field
        self.problems = problems or []

    def __str__(self) -> str:
        if not self.field:
            return self.message
        option = OPTIONS.get(self.field)
        return f"{self.message} (field: {self.field}{f'; CLI option {option}' if option else ''})"


class GatewayUnreachable(ClientError):
    def __init__(self, url: str) -> None:
        super().__init__(0, "unreachable", f"no gateway at {url}: start it with `tessera up`")


class NotConfigured(ClientError):
    def __init__(self, what: str) -> None:
        super().__init__(0, "not_configured", f"no gateway {what} configured: run `tessera login` "
                                               "(or set TESSERA_URL / TESSERA_TOKEN)")


@dataclass(frozen=True)
class CliConfig:
    home: Path
    url: str | None = None
    token: str | None = field(default=None, repr=False)

    @property
    def path(self) -> Path:
        return self.home / CONFIG_FILE


def config_home(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    return Path(env.get("TESSERA_HOME") or DEFAULT_HOME)


def load_config(env: Mapping[str, str] | None = None) -> CliConfig:
    """cli.json under TESSERA_HOME, then TESSERA_URL / TESSERA_TOKEN on top."""
    env = os.environ if env is None else env
    home = config_home(env)
    stored: dict[str, Any] = {}
    path = home / CONFIG_FILE
    if path.exists():
        try:
            stored = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise ClientError(0, "bad_config", f"cannot read {path}: {exc}") from None
        if not isinstance(stored, dict):
            raise ClientError(0, "bad_config", f"cannot read {path}: expected a JSON object")
    url = env.get("TESSERA_URL") or stored.get("url")
    token = env.get("TESSERA_TOKEN") or stored.get("token")
    return CliConfig(home, url.rstrip("/") if isinstance(url, str) else None, token)


def save_config(config: CliConfig) -> Path:
    """Write cli.json readable by its owner only (it holds a bearer token)."""
    config.home.mkdir(parents=True, exist_ok=True)
    path = config.path
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"url": config.url, "token": config.token}, f, indent=2)
    os.chmod(path, 0o600)  # an existing file keeps its old mode through O_CREAT
    return path


def error_from_response(response: httpx.Response) -> ClientError:
    try:
        body = response.json()
    except ValueError:
        body = None
    err = body.get("error") if isinstance(body, dict) else None
    if not isinstance(err, dict):
        text = response.reason_phrase or "error"
        return ClientError(response.status_code, f"http_{response.status_code}", f"HTTP {response.status_code} {text}")
    problems = err.get("problems") or (body.get("problems") if isinstance(body, dict) else None) or []
    return ClientError(response.status_code, str(err.get("code") or f"http_{response.status_code}"),
                       str(err.get("message") or "request failed"), err.get("field"),
                       problems if isinstance(problems, list) else [])


class Client:
    def __init__(self, url: str, token: str | None, *, timeout: float = 30.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.url = url.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout, transport=transport)

    @classmethod
    def from_config(cls, config: CliConfig, **kwargs: Any) -> Client:
        if not config.url:
            raise NotConfigured("URL")
        if not config.token:
            raise NotConfigured("token")
        return cls(config.url, config.token, **kwargs)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        for attempt in range(_RETRIES_ON_429 + 1):
            response = self._send(method, path, **kwargs)
            wait = _retry_after(response)
            if response.status_code != 429 or wait is None or attempt == _RETRIES_ON_429:
                break
            time.sleep(wait)
        if response.is_error:
            raise error_from_response(response)
        try:
            return response.json() if response.content else None
        except ValueError:
            raise ClientError(response.status_code, "bad_response",
                              f"{self.url} answered {method} {path} with something that is not JSON") from None

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=_clean(params))

    def post(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        return self.request("POST", path, json=body if body is not None else {}, **kwargs)

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path)

    def pages(self, path: str, *, page_size: int | None = None, **params: Any) -> Iterator[dict[str, Any]]:
        """Every item of a paged list, following `next_cursor` until it is null."""
        params = _clean({**params, "page_size": page_size})
        while True:
            page = self.request("GET", path, params=params)
            yield from page.get("items", [])
            cursor = page.get("next_cursor")
            if not cursor:
                return
            params = {**params, "cursor": cursor}

    def stream(self, path: str, **params: Any) -> Iterator[SseEvent]:
        """Server-Sent Events of `path` until the server ends the stream."""
        try:
            with self._http.stream("GET", path, params=_clean(params), headers={"Accept": "text/event-stream"},
                                   timeout=httpx.Timeout(10.0, read=None)) as response:
                if response.is_error:
                    response.read()
                    raise error_from_response(response)
                yield from parse_sse(response.iter_lines())
        except (httpx.ConnectError, httpx.ConnectTimeout):
            raise GatewayUnreachable(self.url) from None
        except httpx.RemoteProtocolError as exc:
            raise ClientError(0, "stream_closed", f"the gateway closed the stream: {exc}") from None

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return self._http.request(method, path, **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout):
            raise GatewayUnreachable(self.url) from None
        except httpx.TimeoutException:
            raise ClientError(0, "timeout", f"the gateway at {self.url} did not answer in time") from None
        except httpx.HTTPError as exc:
            raise ClientError(0, "http", f"request to {self.url} failed: {exc}") from None


def _clean(params: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if v is not None and v != [] and v is not False}


def _retry_after(response: httpx.Response) -> float | None:
    if response.status_code != 429:
        return None
    try:
        wait = float(response.headers.get("Retry-After", "1"))
    except ValueError:
        return None
    return wait if 0 <= wait <= _MAX_RETRY_AFTER_S else None
