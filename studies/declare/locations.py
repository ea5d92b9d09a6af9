"""Where a study writes and reads, resolved once in the driver.

Ray runs every trial in a working directory of its own, so a relative path
handed to a trial names another file there: `sqlite:///mlflow.db` would be a
fresh, empty database in each trial's folder. Every location the user gives
(the tracking URI, the Tune storage, the data root, an image folder) is made
absolute here, against the directory the command ran from, before anything
is created; the resolved value is what `--dry-run` prints, what the parent run
records and what `--resume` reuses.
"""

from __future__ import annotations

import os
import re

DEFAULT_TRACKING = "sqlite:///mlflow.db"  # MLflow 3's own default store, in the directory the study runs from
DEFAULT_STORAGE = "./ray_results"
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def absolute_path(path: str, cwd: str | None = None) -> str:
    """`~` expanded and made absolute against `cwd` (default: the current directory)."""
    path = os.path.expanduser(path)
    return os.path.normpath(os.path.join(cwd or os.getcwd(), path))


def tracking_uri(text: str, cwd: str | None = None) -> str:
    """An MLflow tracking URI with any relative file path made absolute:
    `sqlite:///mlflow.db` -> `sqlite:////<cwd>/mlflow.db`, `file:mlruns` and a bare
    path likewise; servers (`http://...`), absolute paths and in-memory sqlite stay."""
    if text.startswith("sqlite:///"):
        path, sep, query = text[len("sqlite:///"):].partition("?")
        if path and not path.startswith("/"):
            return f"sqlite:///{absolute_path(path, cwd)}{sep}{query}"
        return text
    if text.startswith("file:"):
        rest = text[len("file:"):]
        if rest.startswith("//"):  # file:///abs or file://host/...
            return text
        return "file://" + absolute_path(rest, cwd)
    if not _SCHEME.match(text):  # a bare path: MLflow's file store
        return absolute_path(text, cwd)
    return text


def storage_location(text: str, cwd: str | None = None) -> str:
    """Tune storage: a URI (s3://, gs://, file://) as given; a path made absolute, as Tune wants it."""
    return text if "://" in text else absolute_path(text, cwd)


def default_tracking_uri() -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING


def default_storage() -> str:
    return os.environ.get("GAN_STUDIES_STORAGE") or DEFAULT_STORAGE
