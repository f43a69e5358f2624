"""Spec text -> plain data, with syntax problems and a line for every path.

Pure parsing of a string already in memory (no file I/O). YAML goes through
`yaml.safe_load` (no arbitrary objects), JSON through `json.loads`; with
`format=None` a document whose first character is `{` is JSON, anything else
YAML. A syntax error is reported as a Problem with its line, never raised.

The line index comes from composing the YAML node tree (JSON is read the same
way, best effort), which also reveals duplicate mapping keys: both parsers
silently keep the last value, so a repeated key is reported as a problem.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

import yaml

from domains.registry.problems import Problem, render_path

Format = Literal["yaml", "json"]


@dataclass(frozen=True)
class Document:
    data: Any
    problems: list[Problem] = field(default_factory=list)
    lines: dict[str, int] = field(default_factory=dict)

    def line_of(self, path: str) -> int | None:
        """The line of `path`, or of its nearest ancestor present in the document."""
        while path:
            if path in self.lines:
                return self.lines[path]
            cut = max(path.rfind("."), path.rfind("["))
            path = path[:cut] if cut > 0 else ""
        return self.lines.get("")


def detect_format(text: str) -> Format:
    return "json" if text.lstrip().startswith("{") else "yaml"


def load_document(text: str, format: Format | None = None) -> Document:
    fmt = format or detect_format(text)
    if fmt not in ("yaml", "json"):
        raise ValueError(f"format must be 'yaml', 'json' or None, got {format!r}")
    try:
        data = json.loads(text) if fmt == "json" else yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        return Document(None, [Problem("", f"invalid JSON: {exc.msg} (column {exc.colno})", exc.lineno)])
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        what = getattr(exc, "problem", None) or str(exc)
        line = mark.line + 1 if mark is not None else None
        return Document(None, [Problem("", f"invalid YAML: {what}", line)])
    lines, duplicates = _index(text)
    return Document(data, duplicates, lines)


def _index(text: str) -> tuple[dict[str, int], list[Problem]]:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:  # valid JSON that PyYAML (YAML 1.1) cannot read: no line numbers
        return {}, []
    lines: dict[str, int] = {}
    problems: list[Problem] = []
    if root is not None:
        lines[""] = root.start_mark.line + 1
        _walk(root, (), lines, problems, set())
    return lines, problems


def _walk(node: yaml.Node, loc: tuple, lines: dict, problems: list, seen: set) -> None:
    if id(node) in seen:  # an alias: already indexed where its anchor is
        return
    seen.add(id(node))
    if isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines[render_path(loc + (i,))] = item.start_mark.line + 1
            _walk(item, loc + (i,), lines, problems, seen)
    elif isinstance(node, yaml.MappingNode):
        first_line: dict[str, int] = {}
        for key, value in node.value:
            if not isinstance(key, yaml.ScalarNode) or key.value == "<<":
                continue
            path, line = render_path(loc + (key.value,)), key.start_mark.line + 1
            if key.value in first_line:
                problems.append(Problem(path, f"duplicate key (first on line {first_line[key.value]})", line))
            else:
                first_line[key.value] = line
            lines[path] = line  # the parsers keep the last value, so point at it
            _walk(value, loc + (key.value,), lines, problems, seen)
