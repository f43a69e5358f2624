"""The cluster spec's cross-field rules, checked on plain data.

These are the rules a schema cannot express: unique pool and node names, a
node's pool declared in `pools`, a node's platform among its pool's platforms,
and a consistent GPU inventory (a GPU model needs GPUs; GPUs need a model and
a memory size). They run on the raw document even when it has schema errors,
skipping any value of the wrong type (the schema reports that one), so one
pass reports every problem. Defaults come from `schemas.fleet` itself, so a
spec without `pools` has the same implicit `default` pool here as in the model.
"""

from __future__ import annotations

from typing import Any

from domains.registry.problems import Problem
from schemas.fleet import ClusterSpec, NodeSpec

DEFAULT_POOLS = [p.model_dump() for p in ClusterSpec.model_fields["pools"].get_default(call_default_factory=True)]
DEFAULT_POOL: str = NodeSpec.model_fields["pool"].default


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _dicts(value: Any) -> list[tuple[int, dict]]:
    return [(i, item) for i, item in enumerate(value) if isinstance(item, dict)] if isinstance(value, list) else []


def spec_problems(data: dict[str, Any]) -> list[Problem]:
    """Cross-field problems of a whole cluster spec document."""
    pools: dict[str, set[str]] = {}
    problems: list[Problem] = []
    first: dict[str, int] = {}
    for i, pool in _dicts(data.get("pools", DEFAULT_POOLS)):
        name = _str(pool.get("name"))
        if name is None:
            continue
        if name in first:
            problems.append(Problem(f"pools[{i}].name", f"duplicate pool name '{name}' (first at pools[{first[name]}])"))
            continue
        first[name] = i
        platforms = pool.get("platforms", [])
        pools[name] = {p for p in platforms if isinstance(p, str)} if isinstance(platforms, list) else set()
    seen: dict[str, int] = {}
    for i, node in _dicts(data.get("nodes", [])):
        name = _str(node.get("name"))
        if name is not None and name in seen:
            problems.append(Problem(f"nodes[{i}].name", f"duplicate node name '{name}' (first at nodes[{seen[name]}])"))
        elif name is not None:
            seen[name] = i
        problems += node_problems(node, pools, f"nodes[{i}]")
    return problems


def node_problems(node: dict[str, Any], pools: dict[str, set[str]], at: str) -> list[Problem]:
    """Problems of one node against the declared `pools` (name -> platforms); paths start with `at`."""
    problems = []
    pool = _str(node.get("pool", DEFAULT_POOL))
    platform = _str(node.get("platform"))
    if pool is not None and pool not in pools:
        declared = ", ".join(sorted(pools)) or "none"
        problems.append(Problem(f"{at}.pool", f"pool '{pool}' is not declared in pools (declared: {declared})"))
    elif pool is not None and platform is not None and platform not in pools[pool]:
        allowed = ", ".join(sorted(pools[pool])) or "none"
        problems.append(Problem(f"{at}.platform", f"platform '{platform}' is not a platform of pool '{pool}' (platforms: {allowed})"))
    model = node.get("gpu_model") or None  # "" names no model
    count = _int(node.get("gpu_count", 0))
    memory = _int(node.get("gpu_memory_gb", 0))
    if model is not None and count == 0:
        problems.append(Problem(f"{at}.gpu_count", f"gpu_model {model!r} is set but gpu_count is 0"))
    if count is not None and count > 0:
        if model is None:
            problems.append(Problem(f"{at}.gpu_model", f"required when gpu_count > 0 (got gpu_count {count})"))
        if memory == 0:
            problems.append(Problem(f"{at}.gpu_memory_gb", f"must be > 0 when gpu_count > 0 (got gpu_count {count})"))
    return problems
