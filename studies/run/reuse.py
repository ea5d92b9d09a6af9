"""Trial reuse: a trial already trained is not trained again.

Every trial's child run carries a key (`gan.key`): a digest of its full
config (seed and budget included), of the gan_core code that trains it
(`code_digest`) and of the kind of machine it trains on (`machine`:
the CPU's instruction set, or the GPU's name). On the CPU a trial is bitwise
the same trial for the same key, so under FIFO, where every trial runs to its
budget whatever the others do, a trial whose key matches a child run that
already ended `finished` or `diverged` (in any study of the store) is copied
instead of trained: its metric histories, sample grids and mode histograms go
into its own child run, which names the run it came from (`gan.reused_from`,
`gan.reused_from_run`), and its evaluations are reported to Tune as they were
logged. The DCGAN baseline several studies share trains once per store.

Never across code digests (another gan_core may train it differently), never
across machine kinds (another CPU type draws other digits), and never under
ASHA or PBT, where how far a trial runs depends on the others.

A trial only asks the store (which waits for its MLflow side to open: MLflow's
import, the store's first open; seconds before the first round) when its key
is among `reusable_keys`, the keys of the finished runs with this gan_core
digest that the driver found when the study started (or was resumed). A run
that another study finishes after that is not reused by this one.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

TAG_KEY = "gan.key"
TAG_CODE = "gan.code"  # digest of the gan_core that trained the trials (code_digest), on parent and child runs
TAG_MACHINE = "gan.machine"
TAG_REUSED = "gan.reused_from"  # the run id a reused trial's history was copied from
TAG_REUSED_RUN = "gan.reused_from_run"  # that run's parent run name (the study invocation that trained it)
REUSABLE = ("finished", "diverged")  # outcomes that depend on the trial alone, not on a scheduler


def code_digest(root: str | None = None) -> str:
    """A short digest of every file of the gan_core package at `root` (default: the one imported), what trains
    and scores a trial: two runs with the same digest trained their trials with the same code."""
    if root is None:
        import gan_core

        root = os.path.dirname(os.path.abspath(gan_core.__file__))
    digest = hashlib.sha256()
    for path in sorted(Path(root).rglob("*")):
        name = path.relative_to(root)
        if path.is_file() and "__pycache__" not in name.parts and path.suffix not in (".pyc", ".pyo"):
            digest.update(name.as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def machine(device: str = "cpu") -> str:
    """The kind of machine a trial's digits depend on: `cpu-AVX512` (PyTorch's CPU capability, which
    ATEN_CPU_CAPABILITY can lower), or `cuda-<GPU name>`."""
    import torch

    if device.startswith("cuda"):  # asked for where torch sees none: the trial will fail at its build, as it should
        return f"cuda-{torch.cuda.get_device_name(torch.device(device))}" if torch.cuda.is_available() else "cuda-none"
    return f"cpu-{torch.backends.cpu.get_cpu_capability()}"


def trial_key(config: dict, code: str, kind: str) -> str:
    """The digest two runs of the same trial share: full config, gan_core digest, machine kind."""
    text = json.dumps({"config": config, "code": code, "machine": kind}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def find(client, key: str, exclude_parent: str | None = None):
    """A finished (or diverged) child run with this key in any experiment of the store, the original
    before any copy of it; None when there is none."""
    from studies.run import tracking

    experiments = [e.experiment_id for e in tracking.retry(client.search_experiments)]
    query = f"tags.`{TAG_KEY}` = '{key}'"
    runs = tracking.retry(client.search_runs, experiments, filter_string=query, max_results=200,
                          order_by=["attributes.start_time ASC"])
    done = [r for r in runs if r.data.tags.get(tracking.TAG_STATUS) in REUSABLE
            and r.data.tags.get("mlflow.parentRunId") != exclude_parent]
    originals = [r for r in done if TAG_REUSED not in r.data.tags]
    return (originals or done or [None])[0]


def reusable_keys(client, code: str, exclude_parent: str | None = None) -> list[str]:
    """The keys of the finished (or diverged) child runs trained with gan_core digest `code`, in any
    experiment of the store, other than the children of `exclude_parent`: what a trial of this study
    could reuse, whichever machine it lands on (its key names the machine kind)."""
    from studies.run import tracking

    experiments = [e.experiment_id for e in tracking.retry(client.search_experiments)]
    query = f"tags.`{TAG_CODE}` = '{code}'"
    keys, token = set(), None
    while True:
        page = tracking.retry(client.search_runs, experiments, filter_string=query, max_results=5000,
                              page_token=token)
        keys.update(r.data.tags[TAG_KEY] for r in page if TAG_KEY in r.data.tags
                    and r.data.tags.get(tracking.TAG_STATUS) in REUSABLE
                    and r.data.tags.get("mlflow.parentRunId") != exclude_parent)
        token = page.token
        if not token:
            return sorted(keys)


def histories(client, run_id: str) -> dict[str, list]:
    """Every metric's history of the run: key -> [Metric, ...] by step."""
    from studies.run import tracking

    run = tracking.retry(client.get_run, run_id)
    return {key: sorted(tracking.retry(client.get_metric_history, run_id, key), key=lambda m: m.step)
            for key in run.data.metrics}


def evaluations(history: dict[str, list]) -> list[tuple[int, dict]]:
    """The run's evaluations in order: (step, {metric: value}) as the trial reported them."""
    steps: dict[int, dict] = {}
    for key, values in history.items():
        for m in values:
            steps.setdefault(m.step, {})[key] = m.value
    return sorted(steps.items())


def copy(client, source, run_id: str, history: dict[str, list]) -> None:
    """The source run's histories (with their timestamps: a repeated copy is a no-op for the store),
    sample grids and mode histograms into run `run_id`, which then names where they came from."""
    from studies.run import tracking

    metrics = [m for values in history.values() for m in values]
    for i in range(0, len(metrics), 1000):
        tracking.retry(client.log_batch, run_id, metrics=metrics[i:i + 1000])
    have = {a.path for a in tracking.retry(client.list_artifacts, run_id, "images")}
    with tempfile.TemporaryDirectory() as scratch:
        for artifact in tracking.retry(client.list_artifacts, source.info.run_id, "images"):
            if artifact.path not in have and not artifact.is_dir:  # each grid: its PNG and the UI's thumbnail
                local = tracking.download(client, source.info.run_id, artifact.path, scratch)
                tracking.retry(client.log_artifact, run_id, local, os.path.dirname(artifact.path))
        modes = tracking.read_modes(client, source.info.run_id, scratch)
        if modes is not None:
            tracking.retry(client.log_dict, run_id, modes, tracking.MODES_FILE)
    tracking.set_tags(client, run_id, {TAG_REUSED: source.info.run_id, TAG_REUSED_RUN: origin_name(client, source)})


def origin_name(client, source) -> str:
    """The name of the study run (parent run) that trained `source`, e.g. `dg_ratio-20261207-101500`."""
    from studies.run import tracking

    parent = source.data.tags.get("mlflow.parentRunId")
    return tracking.retry(client.get_run, parent).info.run_name if parent else source.info.run_name
