"""Decoded image arrays: one uint8 tensor per dataset, cached on disk, sampled by index.

An image dataset read from files (torchvision's MNIST, CIFAR-10, CelebA, or an
image folder) is decoded once, at its image size S, into an (N, C, S, S) uint8
array written to `<cache dir>/images/<name>-<hash>.u8` (raw bytes; the hash
covers the source files, the image size and the decoding, so a changed source
is decoded again), beside a `.pt` sidecar holding the shape, the labels and the
files that could not be read (loaded with `weights_only=True`). A lock file
makes concurrent first uses (parallel trials) decode once.

The array is then memory-mapped from that file, never read per batch through a
DataLoader: trials on one machine share one copy through the page cache, and a
batch is `images[indices]`, indices drawn from the caller's CPU
`torch.Generator`, so a seed draws the same images wherever the array lives.

`ImageArray.to(device, budget)` copies the whole array to a device (a GPU when
training there) when it holds at most `budget` bytes (the caller's share of
the device; see `gan_core.devices.data_budget`), and at most
$GAN_STUDIES_MEMORY_BUDGET bytes when that is set (a cap for every run); a
larger array stays mapped on the CPU and each batch is copied.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import torch

from gan_core.utils import atomic_write, cache_dir, to_device

FORMAT_VERSION = 1  # bump when the cache layout or any decoding changes
BUDGET_ENV = "GAN_STUDIES_MEMORY_BUDGET"
SHOWN_SKIPPED = 20  # unreadable files named in a warning; the rest are counted

Writer = Callable[[torch.Tensor], None]
Builder = Callable[[Writer], dict]

_LOADED: dict[str, "ImageArray"] = {}


def memory_cap() -> int | None:
    """Bytes no array moved whole to a device may exceed, whatever its budget: $GAN_STUDIES_MEMORY_BUDGET,
    else None (no cap)."""
    text = os.environ.get(BUDGET_ENV, "").strip()
    if not text:
        return None
    if not text.isdigit():
        raise ValueError(f"{BUDGET_ENV}: {text!r} is not a number of bytes (an integer >= 0)")
    return int(text)


@dataclass(frozen=True)
class ImageArray:
    images: torch.Tensor  # (N, C, S, S) uint8: memory-mapped on the CPU, or a copy on a device
    labels: torch.Tensor | None  # (N,) long class ids, (N, K) float32 multi-hot tags, or None; on the images' device

    def __len__(self) -> int:
        return self.images.shape[0]

    def fits(self, budget: int) -> bool:
        """Whether `to` copies this array to another device: it holds at most `budget` bytes (and the cap)."""
        cap = memory_cap()
        return self.images.numel() <= (budget if cap is None else min(budget, cap))

    def to(self, device: torch.device | str, budget: int) -> "ImageArray":
        """This array on `device` when it fits `budget` bytes; else this array, still mapped on the CPU."""
        device = torch.device(device)
        if self.images.device == device or not self.fits(budget):
            return self
        labels = None if self.labels is None else self.labels.to(device)
        return ImageArray(self.images.to(device), labels)

    def indices(self, shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
        """Uniform row indices of the given shape, drawn on the CPU from `generator`."""
        return torch.randint(0, len(self), shape, generator=generator)

    def rows(self, index: torch.Tensor) -> torch.Tensor:
        """The indexed images as float32 in [0, 1], on the array's device."""
        return self.images[to_device(index, self.images.device)].float().div_(255)

    def labels_of(self, index: torch.Tensor) -> torch.Tensor:
        return self.labels[to_device(index, self.labels.device)]


def cached_array(name: str, key: str, build: Builder) -> ImageArray:
    """The array of `name` cached for `key` (a description of the source and its decoding);
    built first when missing: `build(write)` passes (n, C, S, S) uint8 chunks to `write` in
    order and returns {"labels": tensor or None, "skipped": [unreadable paths]}."""
    stem = array_stem(name, key)
    if str(stem) not in _LOADED:
        with _locked(stem):
            meta = _read_meta(stem)
            if meta is None:
                meta = _write(stem, build)
        shape = tuple(meta["shape"])
        images = torch.from_file(str(stem.with_suffix(".u8")), shared=False, size=_numel(shape), dtype=torch.uint8)
        _LOADED[str(stem)] = ImageArray(images.view(shape), meta["labels"])
        _warn_skipped(name, meta["skipped"])
    return _LOADED[str(stem)]


def array_stem(name: str, key: str) -> Path:
    digest = hashlib.sha1(f"{FORMAT_VERSION}\n{key}".encode()).hexdigest()[:16]
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[-60:]
    return cache_dir() / "images" / f"{safe}-{digest}"


def _numel(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


@contextmanager
def _locked(stem: Path) -> Iterator[None]:
    stem.parent.mkdir(parents=True, exist_ok=True)
    with open(stem.with_suffix(".lock"), "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _read_meta(stem: Path) -> dict | None:
    """The sidecar of a complete cache entry, or None when missing, unreadable or not matching its data file."""
    try:
        meta = torch.load(stem.with_suffix(".pt"), map_location="cpu", weights_only=True)
        size = stem.with_suffix(".u8").stat().st_size
    except (OSError, EOFError, RuntimeError, ValueError):
        return None
    if not isinstance(meta, dict) or size != _numel(tuple(meta.get("shape", (-1,)))):
        return None
    return meta


def _write(stem: Path, build: Builder) -> dict:
    """Run the builder into a temporary file, then publish the data and (last) its sidecar."""
    tail, rows = [], [0]

    def write(chunk: torch.Tensor) -> None:
        if chunk.dtype != torch.uint8 or chunk.dim() != 4 or (tail and list(chunk.shape[1:]) != tail):
            raise ValueError(f"image chunks must be (n, C, S, S) uint8 of one shape, "
                             f"got {chunk.dtype} {tuple(chunk.shape)}")
        tail[:] = list(chunk.shape[1:])
        handle.write(chunk.contiguous().numpy().tobytes())
        rows[0] += chunk.shape[0]

    with atomic_write(stem.with_suffix(".u8")) as handle:
        result = build(write)
        if rows[0] == 0:
            raise ValueError(f"{stem.name}: no images were decoded")
    meta = {"shape": [rows[0], *tail], "labels": result.get("labels"), "skipped": list(result.get("skipped", []))}
    with atomic_write(stem.with_suffix(".pt")) as handle:
        torch.save(meta, handle)
    return meta


def _warn_skipped(name: str, skipped: list[str]) -> None:
    if skipped:
        shown = ", ".join(skipped[:SHOWN_SKIPPED])
        more = f" and {len(skipped) - SHOWN_SKIPPED} more" if len(skipped) > SHOWN_SKIPPED else ""
        warnings.warn(f"{name}: skipped {len(skipped)} unreadable image file(s): {shown}{more}", stacklevel=3)
