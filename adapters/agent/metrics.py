"""Reading an engine's load from its Prometheus `/metrics` text (vLLM's metric names).

`parse_load(text)` sums each gauge over all its label sets (one engine may
report per model or per engine core):

    running   vllm:num_requests_running
    waiting   vllm:num_requests_waiting
    kv_cache  vllm:kv_cache_usage_perc, or the older vllm:gpu_cache_usage_perc
              (a fraction 0..1; the highest label set, not a sum)

A metric that is absent reads 0; a line that does not parse (comments,
histograms, NaN) is skipped, never an error: load is advisory, and an engine
upgrade that renames a metric must not stop the heartbeats.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

RUNNING = "vllm:num_requests_running"
WAITING = "vllm:num_requests_waiting"
KV_CACHE = ("vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc")  # newest name first


@dataclass(frozen=True)
class Load:
    running: int = 0
    waiting: int = 0
    kv_cache: float = 0.0


def samples(text: str) -> dict[str, list[float]]:
    """Metric name -> every value reported for it (one per label set)."""
    out: dict[str, list[float]] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if "{" in line:  # name{labels} value [timestamp]; label values may hold spaces
            name, rest = line[:line.index("{")], line[line.rindex("}") + 1:]
        else:
            name, _, rest = line.partition(" ")
        fields = rest.split()
        if not fields:
            continue
        try:
            value = float(fields[0])
        except ValueError:
            continue
        if math.isfinite(value):
            out.setdefault(name.strip(), []).append(value)
    return out


def parse_load(text: str) -> Load:
    found = samples(text)
    kv = next((found[name] for name in KV_CACHE if name in found), [0.0])
    return Load(running=int(sum(found.get(RUNNING, [0.0]))), waiting=int(sum(found.get(WAITING, [0.0]))),
                kv_cache=min(max(max(kv), 0.0), 1.0))


def render(running: int, waiting: int, kv_cache: float, model: str) -> str:
    """Prometheus text with vLLM's names, for engines that do not export their own (stand-in, cpu)."""
    labels = f'{{model_name="{model}"}}'
    return "".join(
        f"# TYPE {name} gauge\n{name}{labels} {value}\n"
        for name, value in ((RUNNING, float(running)), (WAITING, float(waiting)), (KV_CACHE[0], kv_cache)))
