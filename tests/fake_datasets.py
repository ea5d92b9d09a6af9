"""Tiny stand-ins for MNIST, CIFAR-10 and CelebA, written in the on-disk formats torchvision uses
(and `matching_rows`, which finds sampled images in a decoded array).

The tests load them through the dataset registry with no network:
  * MNIST: idx files (big-endian header, then uint8 pixels / labels) of sklearn's
    8x8 digits scaled to 20x20 and centred in 28x28, as MNIST digits are; the
    digits' train split is MNIST's train, the held-out split its t10k;
  * CIFAR-10: pickled batches {"data": (n, 3072) uint8, "labels": [...]}, each
    image a flat colour per class plus noise;
  * CelebA: 178x218 JPEGs, one flat colour per image (`celeba_colour`) inside
    the central 148x148 square (the crop) and black outside, with
    list_attr_celeba.txt's +1/-1 attribute table.
"""

from __future__ import annotations

import pickle
import struct
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from gan_core import classifiers, image_data
from gan_core.image_store import ImageArray
from gan_core.utils import resize_images

CIFAR_PER_BATCH = 12
CELEBA_IMAGES = 24
CELEBA_ATTRIBUTES = [f"Attribute_{i:02d}" for i in range(40)]


def write_idx_images(path: Path, images: np.ndarray) -> None:
    n, rows, cols = images.shape
    path.write_bytes(struct.pack(">IIII", 0x803, n, rows, cols) + images.astype(np.uint8).tobytes())


def write_idx_labels(path: Path, labels: np.ndarray) -> None:
    path.write_bytes(struct.pack(">II", 0x801, len(labels)) + labels.astype(np.uint8).tobytes())


def mnist_like(images01: torch.Tensor) -> np.ndarray:
    """(M, 8, 8) digits in [0, 1] -> (M, 28, 28) uint8: 20x20 digit centred with a 4-pixel border."""
    digits = resize_images(images01[:, None], 20)[:, 0]
    padded = torch.nn.functional.pad(digits, (4, 4, 4, 4))
    return (padded * 255).round().to(torch.uint8).numpy()


def write_mnist(root: Path) -> Path:
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    train_x, train_y, test_x, test_y = classifiers.digits_split()
    for split, x, y in (("train", train_x, train_y), ("t10k", test_x, test_y)):
        write_idx_images(raw / f"{split}-images-idx3-ubyte", mnist_like(x))
        write_idx_labels(raw / f"{split}-labels-idx1-ubyte", y.numpy())
    return raw


def cifar_batch(n: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    colours = np.linspace(20, 235, 10)[labels]
    data = np.clip(colours[:, None] + rng.normal(0, 10, (n, 3072)), 0, 255).astype(np.uint8)
    return {"batch_label": f"batch {seed}", "labels": labels.tolist(), "data": data,
            "filenames": [f"img_{seed}_{i}.png" for i in range(n)]}


def write_cifar10(root: Path) -> Path:
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for seed, name in enumerate(names):
        with open(folder / name, "wb") as handle:
            pickle.dump(cifar_batch(CIFAR_PER_BATCH, seed), handle, protocol=2)
    with open(folder / "batches.meta", "wb") as handle:
        pickle.dump({"label_names": [f"class{i}" for i in range(10)], "num_cases_per_batch": CIFAR_PER_BATCH},
                    handle, protocol=2)
    return folder


def celeba_colour(i: int) -> tuple[int, int, int]:
    return (40 + 8 * i, 230 - 6 * i, 128)


def crop_target(colour, width: int = 178, height: int = 218, side: int = 148) -> Image.Image:
    """A central side x side square of `colour` on black: after the center crop, one flat colour."""
    canvas = np.zeros((height, width, 3), dtype=np.uint8)
    top, left = (height - side) // 2, (width - side) // 2
    canvas[top:top + side, left:left + side] = colour
    return Image.fromarray(canvas)


def write_celeba(root: Path) -> Path:
    folder = root / "celeba"
    images = folder / "img_align_celeba"
    images.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    attributes = rng.choice([-1, 1], size=(CELEBA_IMAGES, 40))
    lines = [str(CELEBA_IMAGES), " ".join(CELEBA_ATTRIBUTES)]
    for i in range(CELEBA_IMAGES):
        name = f"{i + 1:06d}.jpg"
        crop_target(celeba_colour(i)).save(images / name, quality=95)
        lines.append(name + " " + " ".join(f"{v:2d}" for v in attributes[i]))
    (folder / "list_attr_celeba.txt").write_text("\n".join(lines) + "\n")
    return folder


def write_all(root: Path) -> Path:
    """Every fake dataset under one data root; returns the root."""
    write_mnist(root)
    write_cifar10(root)
    write_celeba(root)
    assert all(not image_data._missing(root / sub, files) for sub, files, _ in image_data.SOURCES.values())
    return root


def matching_rows(x: torch.Tensor, array: ImageArray) -> torch.Tensor:
    """Index of the first array row equal to each sampled image (asserting there is one)."""
    rows = array.images.reshape(len(array), -1)
    found = [(rows == image).all(1).nonzero() for image in (x * 255).round().to(torch.uint8).reshape(x.shape[0], -1)]
    assert all(len(f) for f in found)
    return torch.cat([f[0] for f in found])
