"""This host as a node: real CPU count and memory (psutil), GPUs as `nvidia-smi` reports them.

`host_node(name)` runs `nvidia-smi --query-gpu=name,memory.total
--format=csv,noheader` when it is on PATH; without it (or if it fails) the
node has no GPUs, and jobs asking for GPUs wait with the allocator's reason.
Only GPUs of the first model listed are counted (a node has one GPU model);
they are taken as one NVLink domain (`<node>-gpus`), which the local backend
cannot verify. `parse_nvidia_smi` and `gpu_model_name` are pure.
"""

from __future__ import annotations

import logging
import re
import shutil
import socket
import subprocess

import psutil

from schemas.fleet import NodeSpec

log = logging.getLogger("tessera.local")
LABELS = {"tessera.dev/backend": "local"}
_VENDOR = re.compile(r"^(NVIDIA\s+)?(GeForce\s+|Tesla\s+)?", re.IGNORECASE)
_TWO_WORD = {"RTX", "GTX", "QUADRO", "TITAN"}


def gpu_model_name(raw: str) -> str:
    """`NVIDIA H100 80GB HBM3` -> `H100`, `NVIDIA A100-SXM4-80GB` -> `A100`, `NVIDIA GeForce RTX 4090` -> `RTX 4090`."""
    words = _VENDOR.sub("", raw.strip()).split()
    if not words:
        return raw.strip() or "unknown"
    if words[0].upper() in _TWO_WORD and len(words) > 1:
        return f"{words[0]} {words[1]}"
    return words[0].split("-")[0]


def parse_nvidia_smi(text: str) -> tuple[str | None, int, int]:
    """(model, count, memory GB per GPU) of the first model listed; (None, 0, 0) for no GPUs."""
    gpus = []
    for line in text.splitlines():
        name, _, memory = line.partition(",")
        found = re.search(r"(\d+)\s*MiB", memory)
        if name.strip() and found:
            gpus.append((gpu_model_name(name), int(found.group(1)) // 1024))
    if not gpus:
        return None, 0, 0
    model = gpus[0][0]
    same = [memory for m, memory in gpus if m == model]
    return model, len(same), min(same)


def nvidia_gpus() -> tuple[str | None, int, int]:
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None, 0, 0
    try:
        out = subprocess.run([exe, "--query-gpu=name,memory.total", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("nvidia-smi failed (%s): registering this host without GPUs", exc)
        return None, 0, 0
    return parse_nvidia_smi(out)


def host_name() -> str:
    """The hostname as a node name (a subject token: letters, digits, '_' and '-')."""
    name = re.sub(r"[^A-Za-z0-9_-]", "-", socket.gethostname().split(".")[0]).strip("-")
    return name[:63] or "localhost"


def host_node(name: str, *, pool: str = "default", gpus: tuple[str | None, int, int] | None = None) -> NodeSpec:
    model, count, memory = gpus if gpus is not None else nvidia_gpus()
    return NodeSpec(
        name=name, pool=pool, cpu=float(psutil.cpu_count() or 1),
        memory_gb=round(psutil.virtual_memory().total / 2**30, 1),
        gpu_model=model, gpu_count=count, gpu_memory_gb=memory if count else 0,
        nvlink_domain=f"{name}-gpus" if count else None, labels=dict(LABELS),
    )
