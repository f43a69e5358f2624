"""A local run's working directory and environment.

Layout under `$TESSERA_HOME/work/<tenant>/<job>/<attempt>/`:

    inputs/<task>/<output>/   copies of upstream outputs (a task's declared inputs)
    outputs/<name>/           one empty directory per declared output; what the
                              process writes there is what downstream tasks get

An upstream output is read from the producing run's directory
(`work/<tenant>/<job>/<attempt>/outputs/<output>/`). It is copied, not linked,
so a consumer cannot change what its producer left. An output produced on
another cluster is not on this host: its input directory stays empty and the
returned `notes` say so (the run logs them on stderr).

Environment: a small allow-list of the host's variables (PATH, HOME, locale,
temp dir; never the platform's own credentials), then the spec's `env`, then
TESSERA_JOB_ID, TESSERA_ATTEMPT, TESSERA_TASK, TESSERA_WORKFLOW_ID,
TESSERA_INPUTS, TESSERA_OUTPUTS, TESSERA_OUTPUT_<NAME> and
TESSERA_INPUT_<TASK>_<OUTPUT> (names upper-cased, '-' -> '_'), and
CUDA_VISIBLE_DEVICES for the GPU indices placed on this node.

Platform components (jobs labelled `tessera.dev/component`, e.g. the inference
agents the control plane submits; the gateway refuses `tessera.dev/` labels in
tenants' specs) also get `platform_env` (the bus address and credentials they
join with), TESSERA_TENANT, and the running Tessera's bin directory first on
PATH (their command is `tessera ...`).
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from schemas.compute import LaunchJob

INHERITED = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "TEMP", "TMP", "SYSTEMROOT", "USER", "SHELL")


@dataclass(frozen=True)
class Workdir:
    path: Path
    env: dict[str, str]
    notes: list[str]


def run_dir(home: Path, tenant: str, job: str, attempt: int) -> Path:
    return home / "work" / tenant / job / str(attempt)


def _var(*names: str) -> str:
    return "_".join(n.upper().replace("-", "_") for n in names)


COMPONENT_LABEL = "tessera.dev/component"


def prepare(home: Path, tenant: str, order: LaunchJob, gpu_indices: list[int],
            platform_env: Mapping[str, str] | None = None) -> Workdir:
    path = run_dir(home, tenant, order.job_id, order.attempt)
    inputs, outputs = path / "inputs", path / "outputs"
    inputs.mkdir(parents=True, exist_ok=True)
    outputs.mkdir(parents=True, exist_ok=True)
    env = {k: os.environ[k] for k in INHERITED if k in os.environ}
    env.update(order.spec.env)
    if COMPONENT_LABEL in order.spec.labels:
        env.update(platform_env or {})
        env["TESSERA_TENANT"] = tenant
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", os.defpath)])
    env.update(TESSERA_JOB_ID=order.job_id, TESSERA_ATTEMPT=str(order.attempt), TESSERA_INPUTS=str(inputs),
               TESSERA_OUTPUTS=str(outputs), TESSERA_TASK=order.task or "main")
    if order.workflow_id:
        env["TESSERA_WORKFLOW_ID"] = order.workflow_id
    if gpu_indices:
        env["CUDA_VISIBLE_DEVICES"] = ",".join(str(i) for i in gpu_indices)
    for name in order.outputs:
        (outputs / name).mkdir(exist_ok=True)
        env[f"TESSERA_OUTPUT_{_var(name)}"] = str(outputs / name)
    notes = []
    for ref in order.inputs:
        target = inputs / ref.task / ref.output
        source = run_dir(home, tenant, ref.job_id, ref.attempt) / "outputs" / ref.output
        if source.is_dir():
            shutil.copytree(source, target, dirs_exist_ok=True)
        else:
            target.mkdir(parents=True, exist_ok=True)
            notes.append(f"input {ref.task}/{ref.output} (job {ref.job_id}) is not on this host: "
                         f"{target} is empty")
        env[f"TESSERA_INPUT_{_var(ref.task, ref.output)}"] = str(target)
    return Workdir(path, env, notes)
