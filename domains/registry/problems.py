"""`Problem`: one thing wrong with a spec document, named by its path.

Paths read like the document: `nodes[3].gpu_count`, `pools[0].platforms[1]`,
`labels["bad key"]`; the empty path is the document itself. A problem may
carry the 1-based line of the document it points at (when known).

`from_validation_error` turns every error of a pydantic `ValidationError` into
a Problem with a message written for the person editing the spec (unknown
fields suggest the closest known one), so schema and semantic problems read alike.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_TOKEN_PATTERN = r"^[A-Za-z0-9_-]+$"


@dataclass(frozen=True, slots=True)
class Problem:
    path: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = self.path or "<document>"
        if self.line is not None:
            where += f" (line {self.line})"
        return f"{where}: {self.message}"


def render_path(loc: Iterable[str | int]) -> str:
    """`("nodes", 3, "gpu_count")` -> `nodes[3].gpu_count`."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _PLAIN_KEY.match(part):
            out += f".{part}" if out else part
        else:
            out += f'["{part}"]'
    return out


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _unknown_field(name: str, model: type[BaseModel] | None) -> str:
    if model is None:
        return "unknown field"
    known = sorted(model.model_fields)
    close = difflib.get_close_matches(str(name), known, n=1)
    hint = f"did you mean '{close[0]}'?" if close else "known fields: " + ", ".join(known)
    return f"unknown field ({hint})"


def _message(error: dict[str, Any], model: type[BaseModel] | None) -> str:
    kind, value, ctx = error["type"], error.get("input"), error.get("ctx") or {}
    if kind == "extra_forbidden":
        return _unknown_field(error["loc"][-1], model)
    if kind == "missing":
        return "required field is missing"
    if kind == "string_pattern_mismatch" and ctx.get("pattern") == _TOKEN_PATTERN:
        return f"invalid name {_shown(value)}: use only letters, digits, '_' and '-'"
    if kind == "string_pattern_mismatch":
        return f"{_shown(value)} does not match the pattern {ctx.get('pattern')}"
    if kind in ("greater_than_equal", "greater_than"):
        bound = ctx.get("ge", ctx.get("gt"))
        return f"must be {'>=' if kind == 'greater_than_equal' else '>'} {bound}, got {_shown(value)}"
    return f"{error['msg']}, got {type(value).__name__} {_shown(value)}"


def from_validation_error(
    error: ValidationError, model_at: Any = lambda loc: None
) -> list[Problem]:
    """Every error of `error` as a Problem; `model_at(parent_loc)` names the model there (for hints)."""
    problems = []
    for item in error.errors(include_url=False):
        loc = list(item["loc"])
        prefix = ""
        if loc and loc[-1] == "[key]":  # pydantic marks an invalid dict key this way
            loc.pop()
            prefix = "invalid key: "
        model = model_at(tuple(loc[:-1])) if item["type"] == "extra_forbidden" else None
        problems.append(Problem(render_path(loc), prefix + _message(item, model)))
    return problems
