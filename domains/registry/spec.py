"""Cluster spec documents: parse, validate (dry-run), summarise.

`validate_cluster_spec` reports EVERY problem of a document in one pass, each
with its path (`nodes[3].gpu_count`) and, for text, its line: syntax errors,
duplicate keys, unknown fields, wrong types (validation is strict: `"8"` is not
a GPU count, `true` is not a number), negative counts, invalid names, and the
cross-field rules of `rules.py`. `parse_cluster_spec` returns the `ClusterSpec`
only when there is no problem at all, else raises `InvalidSpec` listing them.
`dry_run` validates and, for a valid spec, summarises what would be onboarded.

Pure: the document arrives as a string (or already-loaded data); nothing here
reads files.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ValidationError

from domains.registry.document import Document, Format, load_document
from domains.registry.errors import InvalidSpec
from domains.registry.problems import Problem, from_validation_error
from domains.registry.rules import spec_problems
from domains.registry.summary import DryRun, summarise
from schemas.fleet import ClusterSpec, NodeSpec, PoolSpec

SpecInput = str | dict[str, Any] | ClusterSpec


def _model_at(loc: tuple) -> type[BaseModel] | None:
    if loc == ():
        return ClusterSpec
    if len(loc) == 2 and isinstance(loc[1], int):
        return {"pools": PoolSpec, "nodes": NodeSpec}.get(loc[0])
    return None


def _document(source: SpecInput, format: Format | None) -> Document:
    if isinstance(source, str):
        return load_document(source, format)
    if isinstance(source, ClusterSpec):
        return Document(source.model_dump())
    return Document(source)


def _order(path: str) -> list[tuple[int, int | str]]:
    # Natural order: nodes[2] before nodes[10].
    return [(0, int(t)) if t.isdigit() else (1, t) for t in re.findall(r"\d+|[^\[\].\d]+", path)]


def _check(source: SpecInput, format: Format | None) -> tuple[ClusterSpec | None, list[Problem]]:
    doc = _document(source, format)
    if doc.problems and doc.data is None:
        return None, doc.problems
    problems = list(doc.problems)
    spec = None
    if not isinstance(doc.data, dict):
        got = "an empty document" if doc.data is None else type(doc.data).__name__
        problems.append(Problem("", f"expected a mapping with the cluster's fields, got {got}"))
    else:
        try:
            spec = ClusterSpec.model_validate(doc.data, strict=True)
        except ValidationError as exc:
            problems += from_validation_error(exc, _model_at)
        problems += spec_problems(doc.data)
    located = {Problem(p.path, p.message, p.line or doc.line_of(p.path)): None for p in problems}
    ordered = sorted(located, key=lambda p: (p.line is None, p.line or 0, _order(p.path)))
    return (spec if not ordered else None), ordered


def validate_cluster_spec(source: SpecInput, *, format: Format | None = None) -> list[Problem]:
    """Every problem of the spec (text, loaded data or model), in document order; [] when valid."""
    return _check(source, format)[1]


def parse_cluster_spec(text: str, *, format: Format | None = None) -> ClusterSpec:
    """The spec in `text`; raises `InvalidSpec` with every problem if there is any."""
    spec, problems = _check(text, format)
    if problems or spec is None:
        raise InvalidSpec(problems)
    return spec


def dry_run(source: SpecInput, *, format: Format | None = None) -> DryRun:
    """Validate without onboarding: all problems, plus a summary when there are none."""
    spec, problems = _check(source, format)
    return DryRun(problems=tuple(problems), summary=summarise(spec) if spec is not None else None)
