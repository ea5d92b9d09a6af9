"""Small helpers the rest of gan_core shares: the cache folder, atomic file
writes and image resizing.

  * `cache_dir()`: where derived files live (decoded image arrays, the
    reference classifiers, the default data root): $GAN_STUDIES_CACHE, else
    ~/.cache/gan-studies, read at each call so tests and trials can move it.
  * `atomic_write(path)`: a file handle whose content appears at `path` only
    when the block ends without an error (written beside it, then renamed),
    so a concurrent reader or a killed writer never leaves half a file.
  * `resize_images(images, size)`: the one resizing rule of float images in
    [0, 1] (bilinear, antialiased, clamped), used by the datasets, the
    reference classifiers and the feature extractors alike.
  * `to_device(tensor, device)`: a tensor on a device; from the CPU to CUDA
    through pinned memory, without blocking the host (batches, indices).
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Iterator

import torch
import torch.nn.functional as F

CACHE_ENV = "GAN_STUDIES_CACHE"


def cache_dir() -> Path:
    """$GAN_STUDIES_CACHE, else ~/.cache/gan-studies; read at each call."""
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else Path.home() / ".cache" / "gan-studies"


@contextmanager
def atomic_write(path: Path) -> Iterator[BinaryIO]:
    """A binary handle on a temporary file beside `path`, renamed to `path` (mode 0644) when
    the block ends; on an error the temporary file is removed and `path` is left as it was."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def resize_images(images: torch.Tensor, size: int) -> torch.Tensor:
    """(N, C, H, W) -> (N, C, size, size), bilinear with antialias, clamped to [0, 1]."""
    if images.shape[-1] == size and images.shape[-2] == size:
        return images
    out = F.interpolate(images, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return out.clamp_(0.0, 1.0)


def to_device(tensor: torch.Tensor, device: torch.device | str) -> torch.Tensor:
    """`tensor` on `device`: from the CPU to CUDA through pinned memory and without blocking the host
    (the copy is ordered on the device's stream before any kernel that reads it); else `tensor.to`."""
    device = torch.device(device)
    if device.type == "cuda" and tensor.device.type == "cpu":
        return tensor.pin_memory().to(device, non_blocking=True)
    return tensor.to(device)
