"""Image folders (`folder:PATH`): listing, tags from labels.csv, and the decoded array.

A folder dataset is every file under PATH, recursively, with an
extension in IMAGE_EXTENSIONS (any case; hidden files and folders skipped), in
sorted order. An optional PATH/labels.csv holds `file,tag1,tag2,...` lines,
file relative to PATH (a first line starting `file,` is a header); the tags of
every line form the vocabulary, sorted, and an image's label is the multi-hot
vector of its tags. With labels.csv, an image that has no line is an error
naming it (write `name.png,` for an image without tags). Files that cannot be
decoded are skipped with one warning listing them by path; none readable, an
empty folder or a missing path is an error naming the path.

`folder_tag_count` is what config validation reads: labels.csv alone, no
image listed. The images are listed by `scan_folder` (a study's driver, or the
first load) and decoded by `folder_array`, once, into the image cache.
"""

from __future__ import annotations

import csv
import hashlib
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch

from gan_core.image_data import decode_files
from gan_core.image_store import ImageArray, Writer, cached_array

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
LABELS_FILE = "labels.csv"


@dataclass(frozen=True)
class FolderScan:
    root: Path
    files: tuple[str, ...]  # image paths relative to root, posix, sorted
    tags: tuple[str, ...]  # the sorted tag vocabulary of labels.csv; () when there is none
    file_tags: tuple[tuple[str, ...], ...] | None  # each file's tags, aligned with files; None: unlabelled
    key: str  # digest of every file's path, size and modification time, and of labels.csv


def _image_files(root: Path) -> list[tuple[str, os.stat_result]]:
    found = []
    for folder, subfolders, names in os.walk(root):
        subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))
        for name in names:
            if not name.startswith(".") and name.lower().endswith(IMAGE_EXTENSIONS):
                path = Path(folder) / name
                found.append((path.relative_to(root).as_posix(), path.stat()))
    return sorted(found)


def _labels_table(csv_path: Path) -> dict[str, set[str]]:
    """labels.csv as {image file relative to the folder: its tags} (a `file,...` first line is a header)."""
    table: dict[str, set[str]] = {}
    with open(csv_path, newline="") as handle:
        for number, row in enumerate(csv.reader(handle)):
            if not row or not row[0].strip() or (number == 0 and row[0].strip().lower() == "file"):
                continue
            name = Path(os.path.normpath(row[0].strip())).as_posix()
            table.setdefault(name, set()).update(t.strip() for t in row[1:] if t.strip())
    return table


def _read_labels(root: Path, files: list[str], label: str) -> tuple[tuple[str, ...], tuple[tuple[str, ...], ...]]:
    table = _labels_table(root / LABELS_FILE)
    missing = [f for f in files if f not in table]
    if missing:
        raise ValueError(f"dataset: {label!r}: {missing[0]} has no line in {root / LABELS_FILE} "
                         f"({len(missing)} of {len(files)} images have none; write '{missing[0]},' for no tags)")
    vocabulary = tuple(sorted(set().union(*table.values())))
    return vocabulary, tuple(tuple(sorted(table[f])) for f in files)


def folder_root(path: str) -> Path:
    """PATH of `folder:PATH` as a folder; a one-line ValueError when it is empty, missing or a file."""
    label = f"folder:{path}"
    if not path:
        raise ValueError(f"dataset: {label!r} names no folder; give folder:PATH")
    root = Path(path).expanduser()
    if not root.is_dir():
        what = "is not a folder" if root.exists() else "does not exist"
        raise ValueError(f"dataset: {label!r}: {root} {what}; give folder:PATH with PATH a folder of images")
    return root


def folder_tag_count(path: str) -> int:
    """How many tags the folder's labels.csv names (0 without one): the label size of `folder:PATH`.
    Reads labels.csv alone, once per version of it (its size and modification time); lists no image."""
    csv_path = folder_root(path) / LABELS_FILE
    if not csv_path.is_file():
        return 0
    stat = csv_path.stat()
    return _tag_count(str(csv_path.resolve()), stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=None)
def _tag_count(csv_path: str, size: int, mtime_ns: int) -> int:
    return len(set().union(*_labels_table(Path(csv_path)).values()))


def scan_folder(path: str) -> FolderScan:
    """List an image folder and read its labels.csv (no decoding); a one-line ValueError for a
    missing path, a folder without images, or an image without a labels.csv line."""
    label = f"folder:{path}"
    root = folder_root(path)
    found = _image_files(root)
    if not found:
        raise ValueError(f"dataset: {label!r}: no image files ({', '.join(IMAGE_EXTENSIONS)}) in {root} "
                         f"or its subfolders")
    files = [name for name, _ in found]
    digest = hashlib.sha1(str(root.resolve()).encode())
    for name, stat in found:
        digest.update(f"\n{name}\t{stat.st_size}\t{stat.st_mtime_ns}".encode())
    tags, file_tags = (), None
    if (root / LABELS_FILE).is_file():
        digest.update((root / LABELS_FILE).read_bytes())
        tags, file_tags = _read_labels(root, files, label)
    return FolderScan(root, tuple(files), tags, file_tags, digest.hexdigest())


def folder_labels(scan: FolderScan) -> torch.Tensor | None:
    """(N, len(tags)) float multi-hot of every file's tags, or None when the folder has no labels.csv."""
    if scan.file_tags is None:
        return None
    column = {tag: i for i, tag in enumerate(scan.tags)}
    labels = torch.zeros(len(scan.files), len(scan.tags))
    for row, tags in enumerate(scan.file_tags):
        labels[row, [column[t] for t in tags]] = 1.0
    return labels


def folder_array(scan: FolderScan, size: int) -> ImageArray:
    """The folder's readable images, (N, 3, size, size), with multi-hot tags when it has labels.csv."""

    def build(write: Writer) -> dict:
        kept, skipped = decode_files([scan.root / name for name in scan.files], size, 1.0, write)
        labels = folder_labels(scan)
        return {"labels": None if labels is None else labels[kept], "skipped": skipped}

    return cached_array(f"folder-{scan.root.name}-{size}", f"folder\n{size}\n{scan.key}", build)
