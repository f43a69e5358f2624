"""Exit-code actions: which of complete | fail | reschedule an exit code means for a task.

Keys are code expressions: a code (`"0"`, `"-9"`), a range (`"1-3"`,
`"-15--1"`), a comma list of both (`"137,143"`), or `"*"` for every code no
other key covers. A code no key covers: 0 completes, anything else fails.
Keys of one task may not overlap, so the answer never depends on key order.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from schemas.workflows import ExitAction

WILDCARD = "*"
_ITEM = re.compile(r"^\s*(-?\d+)\s*(?:-\s*(-?\d+)\s*)?$")


def parse_codes(key: str) -> list[tuple[int, int]]:
    """The inclusive ranges a key covers; ValueError naming the problem if malformed."""
    ranges = []
    for item in key.split(","):
        match = _ITEM.match(item)
        if match is None:
            raise ValueError(
                f"invalid exit-code expression {item.strip()!r}: "
                "expected a code, a range 'low-high', a comma list of them or '*'"
            )
        low = int(match[1])
        high = int(match[2]) if match[2] is not None else low
        if low > high:
            raise ValueError(f"empty exit-code range {item.strip()!r}: {low} > {high}")
        ranges.append((low, high))
    return ranges


def key_problems(actions: Mapping[str, object]) -> list[tuple[str, str]]:
    """(key, problem) for every malformed key and every pair of overlapping keys."""
    problems: list[tuple[str, str]] = []
    seen: list[tuple[str, int, int]] = []
    for key in actions:
        if key.strip() == WILDCARD:
            continue
        try:
            ranges = parse_codes(key)
        except ValueError as exc:
            problems.append((key, str(exc)))
            continue
        for low, high in ranges:
            for other, o_low, o_high in seen:
                if low <= o_high and o_low <= high:
                    code = max(low, o_low)
                    where = "twice in" if other == key else f"by both {other!r} and"
                    problems.append((key, f"exit code {code} is covered {where} {key!r}"))
            seen.append((key, low, high))
    return problems


def action_for(actions: Mapping[str, ExitAction], exit_code: int) -> ExitAction:
    """The action for an exit code (keys assumed valid, as after validation)."""
    fallback: ExitAction | None = None
    for key, action in actions.items():
        if key.strip() == WILDCARD:
            fallback = action
            continue
        if any(low <= exit_code <= high for low, high in parse_codes(key)):
            return action
    if fallback is not None:
        return fallback
    return "complete" if exit_code == 0 else "fail"
