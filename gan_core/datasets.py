"""The datasets a GAN study can train on, as a registry of factories that state their facts.

`DATASETS` maps a name to a `DatasetEntry`: its factory `load(image_size,
data_root) -> Dataset` and, beside it, what it is (kind, labels, known modes,
reference classifier, image sizes, where its files come from).
`dataset_entry(name)` also takes `folder:PATH` (whose tag count comes from
its labels.csv) and `load_dataset(name, image_size, data_root)` builds the
dataset. `TrainConfig` validates against the entries alone, so checking a
config loads nothing, downloads nothing and opens no file (but a folder's
labels.csv). A `Dataset` draws real samples on the fly from an explicit
`torch.Generator` and, when its modes are known, scores generated samples
for mode collapse (see `gan_core.mode_scores` for the formulas).

  * ring8: 8 Gaussians equally spaced on the unit circle, std 0.01;
  * grid25: 25 Gaussians at (-4 + 2i, -4 + 2j), i, j in 0..4, std 0.05;
    both uniform mixtures, as in the PacGAN and VEEGAN synthetic experiments;
  * stacked-digits: three independent, uniformly drawn digits from the
    training split of sklearn's bundled 8x8 digits (values scaled to [0, 1],
    resized bilinearly) stacked as R, G, B: 1000 modes, the digit triples.
    Labelled with 30 tags (the R, G and B digit, one-hot each: a multi-tag
    label like hair and eye colour). No download.
  * digits: one such digit per image, one channel, labelled with its class
    (10 modes, 10 classes). No download.
  * mnist: MNIST's 60,000 training digits, one channel, class ids (10 modes,
    scored like digits with a reference classifier trained on MNIST);
  * stacked-mnist: three uniformly drawn MNIST digits as R, G, B, 30 tags
    (1000 modes, scored like stacked-digits);
  * cifar10: CIFAR-10's 50,000 training images, class ids (10); no known modes;
  * celeba: CelebA's 202,599 aligned faces, center-cropped 148x148, with the
    40 binary attributes as multi-hot tags; no known modes;
  * folder:PATH: every image under PATH, center-cropped square, RGB, with the
    multi-hot tags of PATH/labels.csv when there is one; no known modes.
The last five are read from files (see `gan_core.image_data` and
`gan_core.image_folders` for the layouts, downloads and decoding): their
factories check the files (a study's driver loads its dataset once before any
trial); the images are decoded at the first sample, once, into a cached uint8
array (`gan_core.image_store`). Image size 32 or 64 (IMAGE_SIZES).

Labels: a labelled dataset has `n_classes` > 0 and `sample_labeled(n, gen) ->
(x, y)`, y a LongTensor (N,) of class ids, or, when `multi_label`, a float
multi-hot (N, n_classes) of tags. `sample` draws the same images without them.
Where a reference model can tell the label of a sample (the digit classifiers),
`read_labels(samples)` returns it in the same form: conditional generators are
scored by how often the sample shows the label asked for.

Devices: samples are float32 on the CPU, except from `dataset.to(device,
budget)`: a file-backed dataset whose array fits `budget` bytes holds a copy
of it on that device and samples there (same generator, same images); every
other dataset returns itself from `to`, and its samples stay on the CPU.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from gan_core.lazy import lazy

if TYPE_CHECKING:
    from gan_core.image_store import ImageArray

# the registry's facts read without these; a dataset's code imports them when it is built or sampled
torch = lazy("torch")
classifiers, feature_spaces = lazy("gan_core.classifiers"), lazy("gan_core.features")
image_data, image_folders, mode_scores = lazy("gan_core.image_data"), lazy("gan_core.image_folders"), lazy("gan_core.mode_scores")

IMAGE_SIZES = (32, 64)  # the image sides the architectures build for (their depth follows the side)
FOLDER_PREFIX = "folder:"
SOURCES = ("embedded", "data root", "folder")  # where a dataset's files come from


@dataclass(frozen=True)
class Dataset:
    name: str
    kind: str  # "points" (2-D) or "images"
    shape: tuple[int, ...]  # (2,) for points, (C, H, W) for images
    sample: Callable[[int, torch.Generator], torch.Tensor]  # n real samples, float32, CPU; images in [0, 1]
    score_samples: Callable[[torch.Tensor], dict] | None  # mode-collapse scores (and mode histograms), or None
    n_modes: int | None  # number of known modes, or None
    n_classes: int = 0  # classes (or tags, when multi_label) of the labels; 0: unlabelled
    multi_label: bool = False  # labels are multi-hot tag vectors (N, n_classes), not class ids (N,)
    sample_labeled: Callable[[int, torch.Generator], tuple[torch.Tensor, torch.Tensor]] | None = None
    read_labels: Callable[[torch.Tensor], torch.Tensor] | None = None  # labels a reference model reads off samples
    features: Callable[..., torch.Tensor] | None = None  # the dataset's own classifier's feature extractor
    on_device: Callable[["Dataset", torch.device, int], "Dataset"] | None = None  # the dataset sampling on a device

    def to(self, device: torch.device | str, budget: int) -> "Dataset":
        """This dataset with its data on `device` where it can be moved within `budget` bytes (see the module
        docstring), else itself."""
        return self.on_device(self, torch.device(device), budget) if self.on_device else self


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
        return mode_scores.mixture_scores(samples, centers, std)

    return Dataset(
        name=name,
        kind="points",
        shape=(2,),
        sample=sample,
        score_samples=mode_scores.make_scorer((name,), raw_scores, sample),
        n_modes=centers.shape[0],
    )


def ring8(image_size: int = 32, data_root: str = "") -> Dataset:
    """8 modes on the unit circle, std 0.01 (image_size and data_root are ignored)."""
    return mixture_dataset("ring8", ring_centers(8, 1.0), 0.01)


def grid25(image_size: int = 32, data_root: str = "") -> Dataset:
    """25 modes on a 5x5 grid of spacing 2, std 0.05 (image_size and data_root are ignored)."""
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


def read_digits(multi_hot: bool, classifier=None) -> Callable[[torch.Tensor], torch.Tensor]:
    """Labels a reference classifier reads: class ids, or one one-hot block of 10 per channel."""

    def read(samples: torch.Tensor) -> torch.Tensor:
        digit = classifiers.digit_probabilities(samples, classifier).argmax(1).reshape(samples.shape[0], -1)
        if multi_hot:
            return torch.nn.functional.one_hot(digit, 10).float().reshape(samples.shape[0], -1)
        return digit[:, 0]

    return read


def _images_only(sample_labeled):
    return lambda n, generator: sample_labeled(n, generator)[0]


def embedded_digits(name: str, image_size: int, channels: int) -> Dataset:
    """sklearn's digits, one per channel: 10 classes (one channel) or 1000 modes and 30 tags (three)."""
    images, labels = classifiers.digit_images("train", image_size)
    stacked = channels == 3
    sample_labeled = digit_sampler(images, labels, channels, multi_hot=stacked)
    sample = _images_only(sample_labeled)
    scorer = (mode_scores.make_scorer((name, image_size), mode_scores.digit_scores, sample, "confidence") if stacked else
              mode_scores.make_scorer((name, image_size), mode_scores.single_digit_scores, sample, "confidence", "effective_modes"))
    return Dataset(name=name, kind="images", shape=(channels, image_size, image_size), sample=sample,
                   score_samples=scorer, n_modes=1000 if stacked else 10, n_classes=30 if stacked else 10,
                   multi_label=stacked, sample_labeled=sample_labeled, read_labels=read_digits(multi_hot=stacked),
                   features=feature_spaces.classifier_features)


def stacked_digits(image_size: int = 32, data_root: str = "") -> Dataset:
    """Stacked digits at image_size 32 or 64: 1000 modes, scored by the reference classifier (no files)."""
    return embedded_digits("stacked-digits", image_size, 3)


def digits(image_size: int = 32, data_root: str = "") -> Dataset:
    """Single digits, one channel, at image_size 32 or 64: 10 classes, scored by the reference classifier (no files)."""
    return embedded_digits("digits", image_size, 1)


# ------------------------------------------------------------ from files

def _array_sampler(get_array: Callable[[], ImageArray], stacked: bool):
    """Labelled sampler over a decoded array: one row per sample, or three rows stacked as
    R, G, B with 30 tags (stacked). Labels are None when the array has none."""

    def sample_labeled(n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor | None]:
        array = get_array()
        if not stacked:
            index = array.indices((n,), generator)
            return array.rows(index), None if array.labels is None else array.labels_of(index)
        index = array.indices((n, 3), generator)
        x = array.rows(index.reshape(-1)).reshape(n, 3, *array.images.shape[2:])
        y = torch.nn.functional.one_hot(array.labels_of(index), 10).float().reshape(n, 30)
        return x, y

    return sample_labeled


def _move(get_array: Callable[[], ImageArray], stacked: bool):
    """`Dataset.on_device` for a file-backed dataset: the same dataset over the array copied to `device`."""

    def on_device(dataset: Dataset, device: torch.device, budget: int) -> Dataset:
        moved = get_array().to(device, budget)
        sample_labeled = _array_sampler(lambda: moved, stacked)
        return dataclasses.replace(dataset, sample=_images_only(sample_labeled),
                                   sample_labeled=sample_labeled if dataset.n_classes else None)

    return on_device


def array_dataset(name: str, image_size: int, channels: int, load: Callable[[], ImageArray],
                  n_classes: int = 0, multi_label: bool = False, stacked: bool = False) -> Dataset:
    """An image dataset over `load()`'s array, decoded at the first sample (once: the getter is cached)."""
    get_array = functools.cache(load)
    sample_labeled = _array_sampler(get_array, stacked)
    return Dataset(
        name=name,
        kind="images",
        shape=(channels, image_size, image_size),
        sample=_images_only(sample_labeled),
        score_samples=None,
        n_modes=None,
        n_classes=n_classes,
        multi_label=multi_label,
        sample_labeled=sample_labeled if n_classes else None,
        on_device=_move(get_array, stacked),
    )


def _mnist_scored(dataset: Dataset, root, raw_scorer, n_modes: int, *keys: str) -> Dataset:
    """Attach mode scores read by the MNIST reference classifier (trained on first use)."""
    train_data = functools.partial(image_data.mnist_digits, root)
    classifier = lambda device="cpu": classifiers.mnist_classifier(train_data, device=device)
    raw = functools.partial(raw_scorer, classifier=classifier)
    key = (dataset.name, dataset.shape[-1], str(root))
    return dataclasses.replace(dataset, n_modes=n_modes,
                               score_samples=mode_scores.make_scorer(key, raw, dataset.sample, *keys),
                               read_labels=read_digits(dataset.multi_label, classifier),
                               features=functools.partial(feature_spaces.classifier_features, classifier=classifier))


def mnist(image_size: int = 32, data_root: str = "") -> Dataset:
    """MNIST training digits, one channel, class ids: 10 modes, scored like digits."""
    root = image_data.require("mnist", data_root)
    data = array_dataset("mnist", image_size, 1, lambda: image_data.mnist_array(root, image_size), n_classes=10)
    return _mnist_scored(data, root, mode_scores.single_digit_scores, 10, "confidence", "effective_modes")


def stacked_mnist(image_size: int = 32, data_root: str = "") -> Dataset:
    """Three MNIST training digits as R, G, B, 30 tags: 1000 modes, scored like stacked-digits."""
    root = image_data.require("mnist", data_root)
    data = array_dataset("stacked-mnist", image_size, 3, lambda: image_data.mnist_array(root, image_size),
                         n_classes=30, multi_label=True, stacked=True)
    return _mnist_scored(data, root, mode_scores.digit_scores, 1000, "confidence")


def cifar10(image_size: int = 32, data_root: str = "") -> Dataset:
    """CIFAR-10 training images, class ids (10); no known modes."""
    root = image_data.require("cifar10", data_root)
    return array_dataset("cifar10", image_size, 3, lambda: image_data.cifar10_array(root, image_size), n_classes=10)


def celeba(image_size: int = 32, data_root: str = "") -> Dataset:
    """CelebA aligned faces, 148x148 center crop, 40 attributes as multi-hot tags; no known modes."""
    root = image_data.require("celeba", data_root)
    return array_dataset("celeba", image_size, 3, lambda: image_data.celeba_array(root, image_size),
                         n_classes=40, multi_label=True)


def folder_dataset(path: str, image_size: int = 32) -> Dataset:
    """`folder:PATH`: the folder's images, RGB, with labels.csv's tags (multi-hot) when present; no known modes."""
    scan = image_folders.scan_folder(path)
    return array_dataset(FOLDER_PREFIX + path, image_size, 3, lambda: image_folders.folder_array(scan, image_size),
                         n_classes=len(scan.tags), multi_label=True)


# ------------------------------------------------------------ the registry

@dataclass(frozen=True)
class DatasetEntry:
    """A dataset's factory and the facts `TrainConfig` validates against, read without loading it."""
    load: Callable[[int, str], Dataset]  # load(image_size, data_root) -> the Dataset (file-backed: checks its files)
    kind: str  # "points" (2-D) or "images"
    n_classes: int = 0  # label classes, or tags when multi_label; 0: unlabelled
    multi_label: bool = False  # labels are multi-hot tags, not class ids
    n_modes: int | None = None  # known modes (scored by gan_core.mode_scores); None: unknown (gan_core.sample_scores)
    classifier: bool = False  # has its own reference classifier (`features=classifier`)
    image_sizes: tuple[int, ...] = IMAGE_SIZES  # image_size values it takes (2-D points accept and ignore them)
    source: str = "embedded"  # embedded (ships with the install), data root (TrainConfig.data_root), or folder

    def check_image_size(self, name: str, image_size: int) -> None:
        """A one-line ValueError naming `image_size` when this dataset does not take it (2-D points take, and
        ignore, the image datasets' sizes)."""
        if image_size not in self.image_sizes:
            raise ValueError(f"image_size: {image_size!r} is not one of {', '.join(map(str, self.image_sizes))} "
                             f"(dataset {name!r})")


DATASETS: dict[str, DatasetEntry] = {
    "ring8": DatasetEntry(ring8, "points", n_modes=8),
    "grid25": DatasetEntry(grid25, "points", n_modes=25),
    "stacked-digits": DatasetEntry(stacked_digits, "images", 30, True, n_modes=1000, classifier=True),
    "digits": DatasetEntry(digits, "images", 10, n_modes=10, classifier=True),
    "mnist": DatasetEntry(mnist, "images", 10, n_modes=10, classifier=True, source="data root"),
    "stacked-mnist": DatasetEntry(stacked_mnist, "images", 30, True, n_modes=1000, classifier=True, source="data root"),
    "cifar10": DatasetEntry(cifar10, "images", 10, source="data root"),
    "celeba": DatasetEntry(celeba, "images", 40, True, source="data root"),
}


def folder_entry(path: str) -> DatasetEntry:
    """`folder:PATH` as a registry entry: RGB images, multi-hot tags, as many as its labels.csv names
    (0 without one; read once per version of that file), no known modes. A one-line ValueError
    when PATH is not a folder; its images are listed only by `load`."""
    tags = image_folders.folder_tag_count(path)
    return DatasetEntry(lambda image_size, data_root: folder_dataset(path, image_size), "images", tags,
                        multi_label=True, source="folder")


def dataset_choices() -> str:
    """The allowed dataset values, as error messages and help texts list them."""
    return ", ".join([*DATASETS, FOLDER_PREFIX + "PATH"])


def is_dataset_name(name) -> bool:
    """Whether `name` is a registered dataset or a folder:PATH (the path itself is not checked)."""
    return isinstance(name, str) and (name in DATASETS or name.startswith(FOLDER_PREFIX))


def dataset_entry(name: str) -> DatasetEntry:
    """The registry entry of `name`, a registered name or folder:PATH; one-line ValueError naming the field.
    Opens no file: for a folder it reads only PATH/labels.csv."""
    if not is_dataset_name(name):
        raise ValueError(f"dataset: {name!r} is not one of {dataset_choices()}")
    if name.startswith(FOLDER_PREFIX):
        return folder_entry(name[len(FOLDER_PREFIX):])
    return DATASETS[name]


def load_dataset(name: str, image_size: int = 32, data_root: str = "") -> Dataset:
    """The dataset `name` (a registered name or folder:PATH) at image_size; files are looked for
    under data_root (see gan_core.image_data.data_root). One-line ValueError naming the field."""
    entry = dataset_entry(name)
    entry.check_image_size(name, image_size)
    return entry.load(image_size, data_root)
