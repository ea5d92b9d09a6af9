"""Mode-collapse scores: how many known modes generated samples cover, and how well.

Used by the `score_samples` of the datasets in `gan_core.datasets`. Every
scorer takes samples and returns a dict of python floats; the only state is
the caches (reference classifier, digits, real-data reference scores).

2-D Gaussian mixtures (the PacGAN / VEEGAN protocol), K centres, common std:
  * each sample is assigned to its nearest centre; it is high quality (HQ)
    when its Euclidean distance to that centre is <= 3 * std;
  * modes_covered = number of centres that are the nearest centre of at least
    one HQ sample (the PacGAN reference code also counts a mode from a single
    HQ sample; no larger minimum count is used);
  * hq_ratio = number of HQ samples / N;
  * reverse_kl = KL(p || uniform_K) = sum_k p_k log(K p_k), p the histogram of
    nearest centres over the HQ samples; log(K), the value of a single-mode
    histogram and the worst possible, when no sample is HQ.

Stacked digits (1000 modes), following the stacked-MNIST protocol:
  * the samples are resized to 32x32 (bilinear, antialias) when needed; each
    of the three channels is classified by `reference_classifier()`; the mode
    of a sample is the triple 100 * d_R + 10 * d_G + d_B;
  * the reference classifier is a small CNN trained once, seeded, on the
    training split of the digits with random shifts of up to 2 pixels and
    outlier exposure (noise images trained toward a uniform softmax, so that
    non-digits get low confidence); cached as a state_dict file, trained
    again and replaced when that file is unreadable or from another net;
  * modes_covered = number of distinct triples among all N samples;
  * hq_ratio = share of samples whose three channels are all classified with
    max softmax probability >= CONFIDENCE (0.9);
  * reverse_kl = KL(p || uniform_1000), p the triple histogram over all N
    samples (with N samples it cannot fall below the finite-sample value of
    real data, about 0.3 at N = 2000);
  * confidence = mean over samples of the product of the three channels' max
    softmax probabilities: the soft form of hq_ratio. hq_ratio stays near 0
    for thousands of steps while the digits sharpen (2% at 2,000 DCGAN steps
    against 80% for real data); confidence rises steadily (0.34 against 0.93),
    so it is what `quality` uses.

Single digits (10 modes): each sample is classified as above;
  * modes_covered = classes of at least one confidently classified sample;
  * effective_modes = exp(entropy of the class histogram over all N samples),
    the number of equally likely classes with the same spread (10 for real
    data, 1 for a generator that draws one digit); with only 10 modes a
    mode count saturates, so diversity uses this instead;
  * hq_ratio, reverse_kl as above (one channel); confidence = mean over
    samples of (max softmax probability - 0.1) / 0.9, the confidence above
    chance (with one channel and ten classes even noise gets 0.1).

MNIST and stacked MNIST are scored by the same formulas (single digits and
stacked digits) with their own reference classifier: the digits CNN without
its first pooling (full 32x32 resolution), trained once, seeded, for
MNIST_EPOCHS passes over MNIST's 60,000 training digits (at least
MNIST_MIN_UPDATES updates) with the same shifts and outlier exposure, and
cached as MNIST_CLASSIFIER_FILE beside the digits one. The scorers take the
classifier as an argument (a function returning the model), the sklearn-digits
one by default.

Relative scores, every family. The real reference is the dataset's own
`sample` with the same N, drawn from a generator seeded with REFERENCE_SEED,
scored once per (dataset key, N) and cached in memory:
  * diversity = min(1, m(generated) / m(real)), m = modes_covered (mixtures,
                stacked digits) or effective_modes (single digits)
  * quality   = min(1, q(generated) / q(real)), q = hq_ratio for the 2-D
                mixtures, q = confidence for stacked digits
  * score     = diversity * quality
  A ratio whose real value is 0 is 1 when the generated value is > 0, else 0.
"""

from __future__ import annotations

import math
import os
import pickle
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

HQ_STDS = 3.0
CONFIDENCE = 0.9
REFERENCE_SEED = 1234
DIGITS_SPLIT_SEED = 0
DIGITS_TRAIN_SHARE = 0.8
CLASSIFIER_SEED = 0
CLASSIFIER_FILE = "digits-classifier-v2.pt"  # bump the version when the net or its training changes
MNIST_CLASSIFIER_FILE = "mnist-classifier-v1.pt"  # same rule
MNIST_EPOCHS = 5  # passes over MNIST's 60,000 training digits (about 2,350 updates)
MNIST_MIN_UPDATES = 150  # a smaller set in MNIST's format (a subset, the tests' stand-in) gets more passes
TRAIN_BATCH = 128
BATCH = 1024

RawScorer = Callable[[torch.Tensor], dict[str, float]]
Classifier = Callable[[], nn.Module] | None  # returns the digit classifier a scorer uses; None: the sklearn-digits one

_CLASSIFIERS: dict[str, nn.Module] = {}
_REFERENCES: dict[tuple, dict[str, float]] = {}


# ---------------------------------------------------------------- histograms

def coverage_scores(counts: torch.Tensor, n_samples: int) -> dict[str, float]:
    """modes_covered, hq_ratio and reverse_kl from per-mode counts of the counted (HQ) samples among n_samples."""
    k = counts.numel()
    total = float(counts.sum())
    if total <= 0:
        return {"modes_covered": 0.0, "hq_ratio": 0.0, "reverse_kl": math.log(k)}
    p = counts.double() / total
    nz = p[p > 0]
    return {
        "modes_covered": float((counts > 0).sum()),
        "hq_ratio": total / n_samples,
        "reverse_kl": float((nz * (nz * k).log()).sum()),
    }


# ------------------------------------------------------------ 2-D mixtures

def mixture_assign(samples: torch.Tensor, centers: torch.Tensor, std: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Nearest centre index of each sample, and whether it lies within HQ_STDS * std of it."""
    points = samples.detach().to("cpu", torch.float64).reshape(-1, centers.shape[1])
    dist = torch.cdist(points, centers.to(torch.float64))
    nearest_dist, nearest = dist.min(dim=1)
    return nearest, nearest_dist <= HQ_STDS * std


def mixture_scores(samples: torch.Tensor, centers: torch.Tensor, std: float) -> dict[str, float]:
    """Raw PacGAN/VEEGAN scores (modes_covered, hq_ratio, reverse_kl) of points against a mixture."""
    nearest, hq = mixture_assign(samples, centers, std)
    counts = torch.bincount(nearest[hq], minlength=centers.shape[0])
    return coverage_scores(counts, nearest.numel())


# ------------------------------------------------------------------ digits

@lru_cache(maxsize=None)
def _digits_split() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = torch.as_tensor(digits.images, dtype=torch.float32) / 16.0
    labels = torch.as_tensor(digits.target, dtype=torch.long)
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(DIGITS_SPLIT_SEED))
    cut = int(DIGITS_TRAIN_SHARE * len(labels))
    train, held_out = order[:cut], order[cut:]
    return images[train], labels[train], images[held_out], labels[held_out]


def resize_images(images: torch.Tensor, size: int) -> torch.Tensor:
    """(N, C, H, W) -> (N, C, size, size), bilinear with antialias, clamped to [0, 1]."""
    if images.shape[-1] == size and images.shape[-2] == size:
        return images
    out = F.interpolate(images, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return out.clamp_(0.0, 1.0)


@lru_cache(maxsize=None)
def digit_images(split: str, size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """sklearn's 8x8 digits in [0, 1] resized to size x size: ((M, size, size), labels (M,)).

    `split` is "train" (about 80%, fixed seed) or "held_out". Cached: do not modify.
    """
    train_x, train_y, test_x, test_y = _digits_split()
    splits = {"train": (train_x, train_y), "held_out": (test_x, test_y)}
    if split not in splits:
        raise ValueError(f"split must be one of {sorted(splits)}, got {split!r}")
    images, labels = splits[split]
    return resize_images(images[:, None], size)[:, 0].contiguous(), labels


def _classifier_net() -> nn.Sequential:
    return nn.Sequential(
        nn.AvgPool2d(2),  # 32 -> 16: the digits carry 8x8 detail only
        nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(),
        nn.Flatten(), nn.Dropout(0.3), nn.Linear(32 * 4 * 4, 10),
    )


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
    return fit_classifier(_classifier_net, images, labels, seed, epochs)


def classifier_accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Share of (M, 32, 32) digit images that `model` labels correctly."""
    with torch.no_grad():
        predicted = torch.cat([model(b[:, None]).argmax(1) for b in images.split(BATCH)])
    return float((predicted == labels).float().mean())


def cache_dir() -> Path:
    """$GAN_STUDIES_CACHE, else ~/.cache/gan-studies; read at each call."""
    env = os.environ.get("GAN_STUDIES_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "gan-studies"


def classifier_path() -> Path:
    """Where the reference classifier's state_dict is cached."""
    return cache_dir() / CLASSIFIER_FILE


def _save_atomically(state: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(state, f)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _load_classifier(path: Path, make_net: Callable[[], nn.Module] = _classifier_net) -> nn.Module | None:
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


def cached_classifier(path: Path, make_net: Callable[[], nn.Module], train: Callable[[], nn.Module]) -> nn.Module:
    """An eval-mode classifier: from memory, else the file at path, else `train()` and saved there."""
    key = str(path.resolve())
    if key not in _CLASSIFIERS:
        model = _load_classifier(path, make_net)
        if model is None:
            model = train()
            _save_atomically(model.state_dict(), path)
        _CLASSIFIERS[key] = model
    return _CLASSIFIERS[key]


def reference_classifier() -> nn.Module:
    """The eval-mode digit classifier: from memory, else the cache file, else trained and cached."""
    return cached_classifier(classifier_path(), _classifier_net, train_reference_classifier)


# ------------------------------------------------------------------- MNIST

def mnist_classifier_net() -> nn.Sequential:
    """The MNIST reference CNN: the digits net without its first pooling (MNIST has 28x28 detail)."""
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(0.3), nn.Linear(32 * 4 * 4, 10),
    )


def mnist_classifier(train_data: Callable[[], tuple[torch.Tensor, torch.Tensor]],
                     epochs: int = MNIST_EPOCHS, min_updates: int = MNIST_MIN_UPDATES) -> nn.Module:
    """The MNIST reference classifier, trained once (seeded) on `train_data()` -> ((M, 32, 32), labels)
    for `epochs` passes, more when that is under min_updates updates, and cached as
    cache_dir()/MNIST_CLASSIFIER_FILE, like the digits one."""
    def train() -> nn.Module:
        images, labels = train_data()
        passes = max(epochs, math.ceil(min_updates * TRAIN_BATCH / len(labels)))
        return fit_classifier(mnist_classifier_net, images, labels, CLASSIFIER_SEED, passes)

    return cached_classifier(cache_dir() / MNIST_CLASSIFIER_FILE, mnist_classifier_net, train)


# ------------------------------------------------------- digit mode scores

def digit_triples(samples: torch.Tensor, classifier: Classifier = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, 3, H, W) images in [0, 1] -> (triple 0..999 (N,), max softmax probability per channel (N, 3))."""
    if samples.dim() != 4 or samples.shape[1] != 3:
        raise ValueError(f"stacked digits are (N, 3, H, W) images, got shape {tuple(samples.shape)}")
    conf, digit = digit_probabilities(samples, classifier).max(1)
    digit, conf = digit.reshape(-1, 3), conf.reshape(-1, 3)
    triples = digit[:, 0] * 100 + digit[:, 1] * 10 + digit[:, 2]
    return triples, conf


def single_digit_scores(samples: torch.Tensor, classifier: Classifier = None) -> dict[str, float]:
    """Raw single-digit scores over 10 classes: modes_covered, effective_modes, hq_ratio, confidence, reverse_kl."""
    if samples.dim() != 4 or samples.shape[1] != 1:
        raise ValueError(f"digits are (N, 1, H, W) images, got shape {tuple(samples.shape)}")
    probs = digit_probabilities(samples, classifier)
    confidence, digit = probs.max(1)
    confident = confidence >= CONFIDENCE
    scores = coverage_scores(torch.bincount(digit[confident], minlength=10), digit.numel())
    p = torch.bincount(digit, minlength=10).double() / digit.numel()
    nz = p[p > 0]
    scores["effective_modes"] = float(torch.exp(-(nz * nz.log()).sum()))
    scores["reverse_kl"] = float((nz * (nz * 10).log()).sum())
    scores["confidence"] = float(((confidence - 0.1) / 0.9).mean())  # above chance: 0 for a uniform softmax
    return scores


def digit_probabilities(samples: torch.Tensor, classifier: Classifier = None) -> torch.Tensor:
    """(N, C, H, W) images in [0, 1] -> softmax over the 10 digits for every channel, (N * C, 10).
    `classifier` returns the model to use; default: the sklearn-digits reference classifier."""
    images = resize_images(samples.detach().to("cpu", torch.float32), 32)
    channels = images.reshape(-1, 1, 32, 32)
    model = (classifier or reference_classifier)()
    with torch.no_grad():
        return torch.cat([model(b).softmax(1) for b in channels.split(BATCH)])


def digit_scores(samples: torch.Tensor, classifier: Classifier = None) -> dict[str, float]:
    """Raw stacked-digits scores (modes_covered, hq_ratio, reverse_kl) over 1000 triples."""
    triples, confidence = digit_triples(samples, classifier)
    scores = coverage_scores(torch.bincount(triples, minlength=1000), triples.numel())
    scores["hq_ratio"] = float((confidence >= CONFIDENCE).all(1).float().mean())
    scores["confidence"] = float(confidence.prod(1).mean())
    return scores


# --------------------------------------------------------- relative scores

def _ratio(generated: float, real: float) -> float:
    if real <= 0:
        return 1.0 if generated > 0 else 0.0
    return min(1.0, generated / real)


def relative_scores(raw: dict[str, float], reference: dict[str, float],
                    quality_key: str = "hq_ratio", diversity_key: str = "modes_covered") -> dict[str, float]:
    """Add diversity, quality and score (see the module docstring) to raw scores, given the real reference."""
    diversity = _ratio(raw[diversity_key], reference[diversity_key])
    quality = _ratio(raw[quality_key], reference[quality_key])
    return {**raw, "diversity": diversity, "quality": quality, "score": diversity * quality}


def reference_scores(key: tuple, n: int, sample: Callable, raw_scorer: RawScorer) -> dict[str, float]:
    """Raw scores of n real samples from a REFERENCE_SEED generator, cached per (key, n)."""
    if (key, n) not in _REFERENCES:
        real = sample(n, torch.Generator().manual_seed(REFERENCE_SEED))
        _REFERENCES[(key, n)] = raw_scorer(real)
    return _REFERENCES[(key, n)]


def make_scorer(key: tuple, raw_scorer: RawScorer, sample: Callable, quality_key: str = "hq_ratio",
                diversity_key: str = "modes_covered") -> RawScorer:
    """A `score_samples` function: raw scores of the samples, relative to real data of the same N."""

    def score_samples(samples: torch.Tensor) -> dict[str, float]:
        reference = reference_scores(key, int(samples.shape[0]), sample, raw_scorer)
        return relative_scores(raw_scorer(samples), reference, quality_key, diversity_key)

    return score_samples
