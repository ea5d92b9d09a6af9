"""Image sources read from files: torchvision's MNIST, CIFAR-10 and CelebA, and the decoding of image files.

Each `*_array(..., size)` returns a `gan_core.image_store.ImageArray` of uint8
images at size x size, decoded once and cached (see that module). The checks
that run before it (`require`, and `gan_core.image_folders.scan_folder` for image folders) are cheap: they look for files
and read label lists, and decode nothing, so a config can be validated on a
machine that will not train.

torchvision datasets live under a data root (`TrainConfig.data_root`,
`--data-root`; default $GAN_STUDIES_DATA, else `<cache dir>/data`) in
torchvision's own layout:
  * MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte
  * cifar-10-batches-py/data_batch_1 .. data_batch_5
  * celeba/list_attr_celeba.txt and celeba/img_align_celeba/*.jpg
Missing files are downloaded by torchvision when online (CelebA needs the
`gdown` package and Google Drive's consent) unless $GAN_STUDIES_OFFLINE is set
to 1 (fail at once, no network); when that fails the error names
`--data-root` and the folder looked in. MNIST is read by torchvision's class;
CIFAR-10 batches and the CelebA attribute list are read here, in the same
format, because torchvision's classes also demand the MD5 sums of the official
release files.

Decoding: MNIST (1 channel) and CIFAR-10 are resized bilinearly (28 or 32 ->
size); CelebA's aligned 178x218 faces are center-cropped to the usual 148x148
square (148/178 of the shorter side for other sizes), then resized bicubically;
a folder image is center-cropped to its largest square, then resized the same
way. Folder and CelebA images are converted to RGB: 3 channels always (a
grayscale image is repeated, an alpha channel dropped), so a folder's shape is
known before decoding. Values are uint8 here, [0, 1] floats once sampled.
"""

from __future__ import annotations

import os
import pickle
import socket
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch

from gan_core.image_store import ImageArray, Writer, cached_array
from gan_core.utils import cache_dir, resize_images

DATA_ENV = "GAN_STUDIES_DATA"
OFFLINE_ENV = "GAN_STUDIES_OFFLINE"  # "1": never download
CELEBA_CROP = 148 / 178  # the usual CelebA face crop: 148x148 from the center of the 178x218 aligned image
CHUNK = 1024  # images decoded per written chunk (bounds memory while decoding)
DOWNLOAD_TIMEOUT = 60.0  # seconds a download may stall before it counts as failed
# a file that cannot be decoded; `_decode` adds PIL's DecompressionBombError (PIL is imported at the first decode)
UNREADABLE = (OSError, ValueError, SyntaxError)


def data_root(root: str = "") -> Path:
    """The folder torchvision datasets live in: `root`, else $GAN_STUDIES_DATA, else <cache dir>/data."""
    return Path(root or os.environ.get(DATA_ENV) or cache_dir() / "data").expanduser()


# ------------------------------------------------------------ torchvision

def _download_mnist(root: Path) -> None:
    from torchvision.datasets import MNIST
    MNIST(str(root), train=True, download=True)


def _download_cifar10(root: Path) -> None:
    from torchvision.datasets import CIFAR10
    CIFAR10(str(root), train=True, download=True)


def _download_celeba(root: Path) -> None:
    from torchvision.datasets import CelebA
    CelebA(str(root), split="all", download=True)


MNIST_FILES = tuple(f"{split}-{kind}" for split in ("train", "t10k")
                    for kind in ("images-idx3-ubyte", "labels-idx1-ubyte"))
# name -> (folder under the data root, files that must be there, downloader)
SOURCES: dict[str, tuple[str, tuple[str, ...], Callable[[Path], None]]] = {
    "mnist": ("MNIST/raw", MNIST_FILES, _download_mnist),
    "cifar10": ("cifar-10-batches-py", tuple(f"data_batch_{i}" for i in range(1, 6)), _download_cifar10),
    "celeba": ("celeba", ("list_attr_celeba.txt", "img_align_celeba"), _download_celeba),
}


@contextmanager
def _socket_timeout(seconds: float) -> Iterator[None]:
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


def _missing(folder: Path, files: tuple[str, ...]) -> list[str]:
    return [name for name in files if not (folder / name).exists()]


def require(name: str, root: str = "") -> Path:
    """The data root holding dataset `name`, downloading it first when missing; a one-line
    ValueError naming --data-root and the folder looked in when it is absent and cannot be fetched."""
    base = data_root(root)
    sub, files, download = SOURCES[name]
    folder = base / sub
    if not _missing(folder, files):
        return base
    reason = _download(download, base, folder)
    missing = _missing(folder, files)
    if not missing:
        return base
    raise ValueError(
        f"data_root: {name} not found in {folder} (missing {', '.join(missing[:2])}; {reason}); "
        f"pass --data-root (TrainConfig.data_root, or ${DATA_ENV}) naming a folder that holds {sub}/{files[0]}")


def _download(download: Callable[[Path], None], base: Path, folder: Path) -> str:
    """Run a torchvision download into base; what became of it, in a few words. Folders it
    created on the way to `folder` are removed again when it failed and left them empty."""
    if os.environ.get(OFFLINE_ENV, "") == "1":
        return f"not downloaded: ${OFFLINE_ENV} is 1"
    new = [d for d in (folder, *folder.parents) if not d.exists()]
    try:
        with _socket_timeout(DOWNLOAD_TIMEOUT):
            download(base)
    except Exception as err:  # network, archive and missing-package errors all mean "not fetched"
        for empty in new:  # deepest first; rmdir removes only empty folders
            try:
                empty.rmdir()
            except OSError:
                break
        detail = str(err).strip().splitlines()[0] if str(err).strip() else "no detail"
        return f"download failed: {type(err).__name__}: {detail[:160]}"
    return "the download left files missing"


def _source_key(*paths: Path) -> str:
    """What a cache entry depends on: the files' resolved paths, sizes and modification times."""
    parts = []
    for path in paths:
        stat = path.stat()
        parts.append(f"{path.resolve()}\t{stat.st_size}\t{stat.st_mtime_ns}")
    return "\n".join(parts)


def _write_resized(images: torch.Tensor, size: int, write: Writer) -> None:
    """(N, C, h, w) uint8 -> chunks of (n, C, size, size) uint8, bilinear (antialiased when shrinking)."""
    for part in images.split(CHUNK):
        resized = resize_images(part.float().div(255), size)
        write(resized.mul(255).round().clamp(0, 255).to(torch.uint8))


def mnist_array(root: Path, size: int) -> ImageArray:
    """The 60,000 MNIST training digits, (N, 1, size, size), with class ids (N,)."""
    raw = root / SOURCES["mnist"][0]

    def build(write: Writer) -> dict:
        from torchvision.datasets import MNIST
        data = MNIST(str(root), train=True)
        _write_resized(data.data[:, None], size, write)
        return {"labels": data.targets.long().clone()}

    key = f"mnist\n{size}\n{_source_key(raw / MNIST_FILES[0], raw / MNIST_FILES[1])}"
    return cached_array(f"mnist-{size}", key, build)


def _cifar_batches(folder: Path) -> tuple[torch.Tensor, torch.Tensor]:
    images, labels = [], []
    for name in SOURCES["cifar10"][1]:
        with open(folder / name, "rb") as handle:
            entry = pickle.load(handle, encoding="latin1")  # torchvision's reader does the same
        images.append(np.asarray(entry["data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
        labels.extend(entry["labels"])
    return torch.from_numpy(np.concatenate(images)), torch.tensor(labels, dtype=torch.long)


def cifar10_array(root: Path, size: int) -> ImageArray:
    """The 50,000 CIFAR-10 training images, (N, 3, size, size), with class ids (N,)."""
    sub, files, _ = SOURCES["cifar10"]
    folder = root / sub

    def build(write: Writer) -> dict:
        images, labels = _cifar_batches(folder)
        _write_resized(images, size, write)
        return {"labels": labels}

    key = f"cifar10\n{size}\n{_source_key(*(folder / name for name in files))}"
    return cached_array(f"cifar10-{size}", key, build)


def celeba_attributes(folder: Path) -> tuple[list[str], list[str], torch.Tensor]:
    """list_attr_celeba.txt -> (attribute names (40), image files, (N, 40) float multi-hot of the +1 attributes)."""
    lines = (folder / "list_attr_celeba.txt").read_text().splitlines()
    names = lines[1].split()
    rows = [line.split() for line in lines[2:] if line.strip()]
    for row in rows:
        if len(row) != len(names) + 1:
            raise ValueError(f"data_root: {folder / 'list_attr_celeba.txt'}: line for {row[0]!r} has "
                             f"{len(row) - 1} values, expected {len(names)}")
    values = torch.tensor([[int(v) for v in row[1:]] for row in rows], dtype=torch.int8)
    return names, [row[0] for row in rows], (values > 0).float()


def celeba_array(root: Path, size: int) -> ImageArray:
    """Every aligned CelebA face listed in list_attr_celeba.txt, (N, 3, size, size), with 40 attribute tags."""
    folder = root / SOURCES["celeba"][0]
    images = folder / "img_align_celeba"

    def build(write: Writer) -> dict:
        _, files, attributes = celeba_attributes(folder)
        kept, skipped = decode_files([images / name for name in files], size, CELEBA_CROP, write)
        return {"labels": attributes[kept], "skipped": skipped}

    key = f"celeba\n{size}\n{_source_key(folder / 'list_attr_celeba.txt', images)}"
    return cached_array(f"celeba-{size}", key, build)


def mnist_digits(root: Path, split: str = "train") -> tuple[torch.Tensor, torch.Tensor]:
    """MNIST's train or test ("t10k") split as (M, 32, 32) floats in [0, 1] and labels, for the reference classifier."""
    from torchvision.datasets import MNIST
    data = MNIST(str(root), train=split == "train")
    return resize_images(data.data[:, None].float().div(255), 32)[:, 0].contiguous(), data.targets.long()


# ------------------------------------------------------------ decoding files

def _decode(path: Path, size: int, crop: float) -> np.ndarray | None:
    """One image file -> (3, size, size) uint8: RGB, the center square of side `crop` x the shorter
    side, resized; None when the file cannot be decoded."""
    from PIL import Image, ImageOps

    try:
        with Image.open(path) as opened:
            image = ImageOps.exif_transpose(opened).convert("RGB")
    except (*UNREADABLE, Image.DecompressionBombError):
        return None
    width, height = image.size
    side = max(1, round(min(width, height) * crop))
    left, top = (width - side) // 2, (height - side) // 2
    square = image.crop((left, top, left + side, top + side)).resize((size, size), Image.BICUBIC)
    return np.asarray(square, dtype=np.uint8).transpose(2, 0, 1)


def decode_files(paths: list[Path], size: int, crop: float, write: Writer) -> tuple[torch.Tensor, list[str]]:
    """Decode files in chunks on a thread pool, writing the readable ones in order;
    returns (indices of the written files, paths of the unreadable ones)."""
    kept, skipped = [], []
    workers = max(1, min(8, os.cpu_count() or 1))
    with ThreadPoolExecutor(workers) as pool:
        for start in range(0, len(paths), CHUNK):
            part = paths[start:start + CHUNK]
            decoded = list(pool.map(partial(_decode, size=size, crop=crop), part))
            good = [i for i, image in enumerate(decoded) if image is not None]
            skipped += [str(part[i]) for i, image in enumerate(decoded) if image is None]
            kept += [start + i for i in good]
            if good:
                write(torch.from_numpy(np.stack([decoded[i] for i in good])))
    if not kept:
        raise ValueError(f"dataset: none of the {len(paths)} image files could be read, e.g. {paths[0]}")
    return torch.tensor(kept, dtype=torch.long), skipped
