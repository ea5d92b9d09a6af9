"""A study's own state next to Tune's experiment state, for `--resume`.

Tune keeps its trials, checkpoints and searcher state in the experiment folder
`<storage>/<study>-<stamp>/` (a local or shared path, or `s3://...`); next to
them a study keeps `gan_study.json`: the command line it was started with,
the tracking URI, the MLflow experiment and parent run ids, and whether it
finished. `python -m studies.<name> --resume` finds the newest unfinished one
(or the one named), runs the same plan again through `Tuner.restore`, and logs
into the same parent run; trials find their child runs by trial id.
"""

from __future__ import annotations

import json

import pyarrow.fs

STATE_FILE = "gan_study.json"


def experiment_folder(storage: str, name: str) -> str:
    return f"{storage.rstrip('/')}/{name}"


def _fs(uri: str) -> tuple[pyarrow.fs.FileSystem, str]:
    return pyarrow.fs.FileSystem.from_uri(uri)


def write_state(folder: str, state: dict) -> None:
    fs, path = _fs(folder)
    fs.create_dir(path, recursive=True)
    with fs.open_output_stream(f"{path}/{STATE_FILE}") as out:
        out.write(json.dumps(state, indent=1, sort_keys=True).encode())


def read_state(folder: str) -> dict | None:
    fs, path = _fs(folder)
    try:
        with fs.open_input_stream(f"{path}/{STATE_FILE}") as f:
            return json.loads(f.read().decode())
    except (FileNotFoundError, OSError, ValueError):
        return None


def find(storage: str, study: str, name: str | None) -> tuple[str, dict]:
    """The experiment folder and state to resume: `name`, or the newest unfinished
    run of `study` under `storage`. Raises ValueError with a one-line reason."""
    folder, state = _find_state(storage, study, name)
    from ray.tune import Tuner  # only here: Ray loads slowly
    if not Tuner.can_restore(folder):
        raise ValueError(f"{folder} has no Tune state yet (the driver stopped before Tune first saved it); "
                         "start the study again without --resume")
    return folder, state


def _find_state(storage: str, study: str, name: str | None) -> tuple[str, dict]:
    if name:
        folder = experiment_folder(storage, name)
        state = read_state(folder)
        if state is None or state.get("study") != study:
            raise ValueError(f"{folder} holds no {study} study ({STATE_FILE} missing or for another study)")
        if state.get("finished"):
            raise ValueError(f"{name} already finished; its results are in MLflow")
        return folder, state
    for candidate in reversed(_study_folders(storage, study)):
        state = read_state(experiment_folder(storage, candidate))
        if state is not None and not state.get("finished"):
            return experiment_folder(storage, candidate), state
    raise ValueError(f"no unfinished {study} study under {storage} (finished studies are not resumed)")


def _study_folders(storage: str, study: str) -> list[str]:
    """Names of `<study>-<stamp>` folders under storage, oldest first."""
    fs, path = _fs(storage)
    try:
        entries = fs.get_file_info(pyarrow.fs.FileSelector(path, allow_not_found=True))
    except OSError:
        return []
    return sorted(e.base_name for e in entries
                  if e.type == pyarrow.fs.FileType.Directory and e.base_name.startswith(f"{study}-"))
