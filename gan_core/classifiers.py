"""The reference classifiers that read digits off samples: the digits CNN and the MNIST CNN.

They serve the digit datasets three ways: the mode scores of
`gan_core.mode_scores` (which digit, how confidently), the labels a
conditional generator is checked against (`Dataset.read_labels`), and the
`classifier` feature space of `gan_core.features`.

  * digits: a small CNN trained once, seeded, on the training split of
    sklearn's 8x8 digits (resized to 32x32) with random shifts of up to 2
    pixels and outlier exposure (noise images trained toward a uniform
    softmax, so that non-digits get low confidence). >= 97% on the held-out
    split (`digit_images("held_out")`). The digits are read from the file
    scikit-learn ships, without importing scikit-learn (`load_digits`).
  * MNIST: the digits CNN without its first pooling (full 32x32 resolution),
    trained once, seeded, for MNIST_EPOCHS passes over MNIST's 60,000
    training digits (at least MNIST_MIN_UPDATES updates) with the same shifts
    and outlier exposure.

Each is cached as a state_dict file under `gan_core.utils.cache_dir()`
(CLASSIFIER_FILE, MNIST_CLASSIFIER_FILE), trained again and replaced when that
file is unreadable or from another net, and kept in memory once per process
and device (`cached_classifier`). Training and loading leave the global torch
RNG as they found it.
"""

from __future__ import annotations

import copy
import gzip
import importlib.util
import math
import pickle
from functools import lru_cache
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gan_core.utils import atomic_write, cache_dir, resize_images

DIGITS_SPLIT_SEED = 0
DIGITS_TRAIN_SHARE = 0.8
CLASSIFIER_SEED = 0
CLASSIFIER_FILE = "digits-classifier-v2.pt"  # bump the version when the net or its training changes
MNIST_CLASSIFIER_FILE = "mnist-classifier-v1.pt"  # same rule
MNIST_EPOCHS = 5  # passes over MNIST's 60,000 training digits (about 2,350 updates)
MNIST_MIN_UPDATES = 150  # a smaller set in MNIST's format (a subset, the tests' stand-in) gets more passes
TRAIN_BATCH = 128
BATCH = 1024

Classifier = Callable[..., nn.Module] | None  # classifier(device="cpu") -> an eval-mode model; None: the digits one

_CLASSIFIERS: dict[tuple[str, str], nn.Module] = {}  # (resolved cache file, device) -> model


# ------------------------------------------------------------------ digits

def sklearn_digits_file() -> Path | None:
    """The digits file scikit-learn ships (`sklearn/datasets/data/digits.csv.gz`), found without
    importing scikit-learn; None where it is not there."""
    spec = importlib.util.find_spec("sklearn")  # finds the package without running it
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(spec.submodule_search_locations[0], "datasets", "data", "digits.csv.gz")
    return path if path.is_file() else None


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """sklearn's 8x8 digits: images (1797, 8, 8) float64 in 0..16, labels (1797,), read from its file as
    `sklearn.datasets.load_digits` reads it, without importing scikit-learn (with SciPy, seconds before
    a trial's first round); through `load_digits` itself where the file is not found."""
    path = sklearn_digits_file()
    if path is None:
        from sklearn.datasets import load_digits as sklearn_load_digits

        digits = sklearn_load_digits()
        return digits.images, digits.target
    with gzip.open(path, mode="rt", encoding="utf-8") as text:
        data = np.loadtxt(text, delimiter=",")
    return data[:, :-1].reshape(-1, 8, 8), data[:, -1].astype(int, copy=False)


@lru_cache(maxsize=None)
def digits_split() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """sklearn's 8x8 digits in [0, 1], split once (seeded): train images, labels, held-out images, labels."""
    images, target = load_digits()
    images = torch.as_tensor(images, dtype=torch.float32) / 16.0
    labels = torch.as_tensor(target, dtype=torch.long)
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(DIGITS_SPLIT_SEED))
    cut = int(DIGITS_TRAIN_SHARE * len(labels))
    train, held_out = order[:cut], order[cut:]
    return images[train], labels[train], images[held_out], labels[held_out]


@lru_cache(maxsize=None)
def digit_images(split: str, size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """sklearn's 8x8 digits in [0, 1] resized to size x size: ((M, size, size), labels (M,)).

    `split` is "train" (about 80%, fixed seed) or "held_out". Cached: do not modify.
    """
    train_x, train_y, test_x, test_y = digits_split()
    splits = {"train": (train_x, train_y), "held_out": (test_x, test_y)}
    if split not in splits:
        raise ValueError(f"split must be one of {sorted(splits)}, got {split!r}")
    images, labels = splits[split]
    return resize_images(images[:, None], size)[:, 0].contiguous(), labels


def digits_net() -> nn.Sequential:
    """The digits reference CNN: 32x32 in, pooled to 16x16 first (the digits carry 8x8 detail only)."""
    return nn.Sequential(
        nn.AvgPool2d(2),
        nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(),
        nn.Flatten(), nn.Dropout(0.3), nn.Linear(32 * 4 * 4, 10),
    )


def mnist_classifier_net() -> nn.Sequential:
    """The MNIST reference CNN: the digits net without its first pooling (MNIST has 28x28 detail)."""
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(0.3), nn.Linear(32 * 4 * 4, 10),
    )


# ---------------------------------------------------------------- training

def _shift(batch: torch.Tensor, gen: torch.Generator, max_shift: int = 2) -> torch.Tensor:
    """Light augmentation: translate each (1, H, W) image by up to max_shift pixels (zero fill)."""
    n, size = batch.shape[0], batch.shape[-1]
    padded = F.pad(batch[:, 0], (max_shift,) * 4)
    offsets = torch.randint(0, 2 * max_shift + 1, (2, n, 1), generator=gen)
    rows, cols = offsets + torch.arange(size)
    return padded[torch.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]][:, None]


def _outliers(n: int, gen: torch.Generator, size: int = 32) -> torch.Tensor:
    """Non-digits for outlier exposure: pixel noise or smooth blobs, at a random contrast."""
    blobs = F.interpolate(torch.rand(n, 1, 8, 8, generator=gen), size=(size, size), mode="bilinear")
    noise = torch.rand(n, 1, size, size, generator=gen)
    pick = torch.rand(n, 1, 1, 1, generator=gen) < 0.5
    return torch.where(pick, blobs, noise) * torch.rand(n, 1, 1, 1, generator=gen)


def _training_loss(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Cross-entropy on shifted digits plus outlier exposure: non-digits pushed to a uniform softmax."""
    n = labels.numel()
    logits = model(torch.cat([_shift(images, gen), _outliers(n // 4, gen)]))
    return F.cross_entropy(logits[:n], labels) - 0.5 * logits[n:].log_softmax(1).mean()


def fit_classifier(make_net: Callable[[], nn.Module], images: torch.Tensor, labels: torch.Tensor,
                   seed: int, epochs: int, lr: float = 5e-3) -> nn.Module:
    """Train make_net() on (M, 32, 32) digit images with shifts and outlier exposure; eval mode.
    Seeded; leaves the global RNG as it was."""
    images = images[:, None]
    gen = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = make_net()
        opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=1e-4)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
        model.train()
        for _ in range(epochs):
            for idx in torch.randperm(len(labels), generator=gen).split(TRAIN_BATCH):
                loss = _training_loss(model, images[idx], labels[idx], gen)
                opt.zero_grad()
                loss.backward()
                opt.step()
            sched.step()
    return model.eval().requires_grad_(False)


def train_reference_classifier(seed: int = CLASSIFIER_SEED, epochs: int = 30) -> nn.Module:
    """Train the 32x32 single-channel digit CNN on the train split of sklearn's digits."""
    images, labels = digit_images("train", 32)
    return fit_classifier(digits_net, images, labels, seed, epochs)


def classifier_accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Share of (M, 32, 32) digit images that `model` labels correctly."""
    with torch.no_grad():
        predicted = torch.cat([model(b[:, None]).argmax(1) for b in images.split(BATCH)])
    return float((predicted == labels).float().mean())


# ------------------------------------------------------------------- cache

def classifier_path() -> Path:
    """Where the digits reference classifier's state_dict is cached."""
    return cache_dir() / CLASSIFIER_FILE


def load_classifier(path: Path, make_net: Callable[[], nn.Module] = digits_net) -> nn.Module | None:
    """The cached classifier, or None when the file is missing, unreadable or from another net.
    Leaves the global RNG alone (building the net draws its default initialisation)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        with torch.random.fork_rng(devices=[]):
            model = make_net()
        model.load_state_dict(state)
    except (OSError, EOFError, RuntimeError, ValueError, KeyError, pickle.UnpicklingError):
        return None
    return model.eval().requires_grad_(False)


def cached_classifier(path: Path, make_net: Callable[[], nn.Module], train: Callable[[], nn.Module],
                      device: str | torch.device = "cpu") -> nn.Module:
    """An eval-mode classifier on `device`: from memory, else the file at path, else `train()`
    and saved there. One copy per process and device (the CPU one is loaded or trained first)."""
    file, device = str(path.resolve()), torch.device(device)
    if (file, "cpu") not in _CLASSIFIERS:
        model = load_classifier(path, make_net)
        if model is None:
            model = train()
            with atomic_write(path) as handle:
                torch.save(model.state_dict(), handle)
        _CLASSIFIERS[(file, "cpu")] = model
    if (file, str(device)) not in _CLASSIFIERS:
        _CLASSIFIERS[(file, str(device))] = copy.deepcopy(_CLASSIFIERS[(file, "cpu")]).to(device)
    return _CLASSIFIERS[(file, str(device))]


def reference_classifier(device: str | torch.device = "cpu") -> nn.Module:
    """The eval-mode digits classifier on `device`: from memory, else the cache file, else trained and cached."""
    return cached_classifier(classifier_path(), digits_net, train_reference_classifier, device)


def mnist_classifier(train_data: Callable[[], tuple[torch.Tensor, torch.Tensor]], epochs: int = MNIST_EPOCHS,
                     min_updates: int = MNIST_MIN_UPDATES, device: str | torch.device = "cpu") -> nn.Module:
    """The MNIST reference classifier, trained once (seeded) on `train_data()` -> ((M, 32, 32), labels)
    for `epochs` passes, more when that is under min_updates updates, and cached as
    cache_dir()/MNIST_CLASSIFIER_FILE, like the digits one."""
    def train() -> nn.Module:
        images, labels = train_data()
        passes = max(epochs, math.ceil(min_updates * TRAIN_BATCH / len(labels)))
        return fit_classifier(mnist_classifier_net, images, labels, CLASSIFIER_SEED, passes)

    return cached_classifier(cache_dir() / MNIST_CLASSIFIER_FILE, mnist_classifier_net, train, device)


# ----------------------------------------------------------------- reading

def digit_probabilities(samples: torch.Tensor, classifier: Classifier = None) -> torch.Tensor:
    """(N, C, H, W) images in [0, 1] -> softmax over the 10 digits for every channel, (N * C, 10), on the CPU.
    `classifier` returns the model to use; default: the digits reference classifier."""
    images = resize_images(samples.detach().to("cpu", torch.float32), 32)
    channels = images.reshape(-1, 1, 32, 32)
    model = (classifier or reference_classifier)()
    with torch.no_grad():
        return torch.cat([model(b).softmax(1) for b in channels.split(BATCH)])
