"""The datasets a GAN study can train on, as a registry of factories.

`DATASETS` maps a name to a factory `factory(image_size) -> Dataset`. A
`Dataset` draws real samples on the fly from an explicit `torch.Generator`
and, when its modes are known, scores generated samples for mode collapse
(see `gan_core.modes` for the formulas).

  * ring8: 8 Gaussians equally spaced on the unit circle, std 0.01;
  * grid25: 25 Gaussians at (-4 + 2i, -4 + 2j), i, j in 0..4, std 0.05;
    both uniform mixtures, as in the PacGAN and VEEGAN synthetic experiments;
  * stacked-digits: three independent, uniformly drawn digits from the
    training split of sklearn's bundled 8x8 digits (values scaled to [0, 1],
    resized bilinearly) stacked as R, G, B: 1000 modes, the digit triples.
    Labelled with 30 tags (the R, G and B digit, one-hot each: a multi-tag
    label like hair and eye colour). Image size 32 or 64; no download.
  * digits: one such digit per image, one channel, labelled with its class
    (10 modes, 10 classes). Image size 32 or 64; no download.

Labels: a labelled dataset has `n_classes` > 0 and `sample_labeled(n, gen) ->
(x, y)`, y a LongTensor (N,) of class ids, or, when `multi_label`, a float
multi-hot (N, n_classes) of tags. `sample` draws the same images without them.
Where a reference model can tell the label of a sample (the digit classifier),
`read_labels(samples)` returns it in the same form: conditional generators are
scored by how often the sample shows the label asked for.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch

from gan_core import modes

STACKED_SIZES = (32, 64)


@dataclass(frozen=True)
class Dataset:
    name: str
    kind: str  # "points" (2-D) or "images"
    shape: tuple[int, ...]  # (2,) for points, (C, H, W) for images
    sample: Callable[[int, torch.Generator], torch.Tensor]  # n real samples, float32, CPU; images in [0, 1]
    score_samples: Callable[[torch.Tensor], dict[str, float]] | None  # mode-collapse scores, or None
    n_modes: int | None  # number of known modes, or None
    n_classes: int = 0  # classes (or tags, when multi_label) of the labels; 0: unlabelled
    multi_label: bool = False  # labels are multi-hot tag vectors (N, n_classes), not class ids (N,)
    sample_labeled: Callable[[int, torch.Generator], tuple[torch.Tensor, torch.Tensor]] | None = None
    read_labels: Callable[[torch.Tensor], torch.Tensor] | None = None  # labels a reference model reads off samples


def ring_centers(k: int = 8, radius: float = 1.0) -> torch.Tensor:
    """k points equally spaced on a circle, the first at (radius, 0)."""
    angles = torch.arange(k, dtype=torch.float64) * (2 * math.pi / k)
    return (radius * torch.stack([angles.cos(), angles.sin()], 1)).float()


def grid_centers(side: int = 5, spacing: float = 2.0) -> torch.Tensor:
    """side x side points (-4 + 2i, -4 + 2j) for the defaults, centred on the origin."""
    axis = (torch.arange(side, dtype=torch.float32) - (side - 1) / 2) * spacing
    return torch.cartesian_prod(axis, axis)


def mixture_sampler(centers: torch.Tensor, std: float) -> Callable[[int, torch.Generator], torch.Tensor]:
    """Sampler of the uniform isotropic Gaussian mixture with these centres."""

    def sample(n: int, generator: torch.Generator) -> torch.Tensor:
        which = torch.randint(0, centers.shape[0], (n,), generator=generator)
        noise = torch.randn(n, centers.shape[1], generator=generator)
        return centers[which] + std * noise

    return sample


def mixture_dataset(name: str, centers: torch.Tensor, std: float) -> Dataset:
    """A 2-D Gaussian-mixture dataset scored by nearest-mode coverage."""
    sample = mixture_sampler(centers, std)

    def raw_scores(samples: torch.Tensor) -> dict[str, float]:
        return modes.mixture_scores(samples, centers, std)

    return Dataset(
        name=name,
        kind="points",
        shape=(2,),
        sample=sample,
        score_samples=modes.make_scorer((name,), raw_scores, sample),
        n_modes=centers.shape[0],
    )


def ring8(image_size: int = 32) -> Dataset:
    """8 modes on the unit circle, std 0.01 (image_size is ignored)."""
    return mixture_dataset("ring8", ring_centers(8, 1.0), 0.01)


def grid25(image_size: int = 32) -> Dataset:
    """25 modes on a 5x5 grid of spacing 2, std 0.05 (image_size is ignored)."""
    return mixture_dataset("grid25", grid_centers(5, 2.0), 0.05)


def digit_sampler(digits: torch.Tensor, labels: torch.Tensor, channels: int, multi_hot: bool):
    """Labelled sampler drawing `channels` uniform digit images per sample, stacked as the channels.

    Labels: the class id (one channel), or one one-hot block of 10 per channel (multi_hot)."""

    def sample_labeled(n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        which = torch.randint(0, digits.shape[0], (n, channels), generator=generator)
        y = labels[which]
        if multi_hot:
            y = torch.nn.functional.one_hot(y, 10).float().reshape(n, channels * 10)
        else:
            y = y[:, 0]
        return digits[which], y

    return sample_labeled


def _digit_size(name: str, image_size: int) -> None:
    if image_size not in STACKED_SIZES:
        raise ValueError(f"image_size must be one of {STACKED_SIZES} for {name}, got {image_size!r}")


def read_digits(multi_hot: bool) -> Callable[[torch.Tensor], torch.Tensor]:
    """Labels the reference classifier reads: class ids, or one one-hot block of 10 per channel."""

    def read(samples: torch.Tensor) -> torch.Tensor:
        digit = modes.digit_probabilities(samples).argmax(1).reshape(samples.shape[0], -1)
        if multi_hot:
            return torch.nn.functional.one_hot(digit, 10).float().reshape(samples.shape[0], -1)
        return digit[:, 0]

    return read


def _images_only(sample_labeled):
    return lambda n, generator: sample_labeled(n, generator)[0]


def stacked_digits(image_size: int = 32) -> Dataset:
    """Stacked digits at image_size 32 or 64: 1000 modes, scored by the reference classifier."""
    _digit_size("stacked-digits", image_size)
    digits, labels = modes.digit_images("train", image_size)
    sample_labeled = digit_sampler(digits, labels, 3, multi_hot=True)
    sample = _images_only(sample_labeled)
    return Dataset(
        name="stacked-digits",
        kind="images",
        shape=(3, image_size, image_size),
        sample=sample,
        score_samples=modes.make_scorer(("stacked-digits", image_size), modes.digit_scores, sample, "confidence"),
        n_modes=1000,
        n_classes=30,
        multi_label=True,
        sample_labeled=sample_labeled,
        read_labels=read_digits(multi_hot=True),
    )


def digits(image_size: int = 32) -> Dataset:
    """Single digits, one channel, at image_size 32 or 64: 10 classes, scored by the reference classifier."""
    _digit_size("digits", image_size)
    images, labels = modes.digit_images("train", image_size)
    sample_labeled = digit_sampler(images, labels, 1, multi_hot=False)
    sample = _images_only(sample_labeled)
    return Dataset(
        name="digits",
        kind="images",
        shape=(1, image_size, image_size),
        sample=sample,
        score_samples=modes.make_scorer(("digits", image_size), modes.single_digit_scores, sample,
                                        "confidence", "effective_modes"),
        n_modes=10,
        n_classes=10,
        sample_labeled=sample_labeled,
        read_labels=read_digits(multi_hot=False),
    )


DATASETS: dict[str, Callable[[int], Dataset]] = {
    "ring8": ring8,
    "grid25": grid25,
    "stacked-digits": stacked_digits,
    "digits": digits,
}


def load_dataset(name: str, image_size: int = 32) -> Dataset:
    """The dataset registered as `name`, built for image_size; ValueError if the name is unknown."""
    if name not in DATASETS:
        raise ValueError(f"dataset must be one of {sorted(DATASETS)}, got {name!r}")
    return DATASETS[name](image_size)
