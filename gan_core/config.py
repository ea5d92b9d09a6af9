"""TrainConfig: every knob of one GAN training run, in one frozen dataclass.

A run is fully described by a `TrainConfig`; `gan_core.train.train` takes one
and nothing else. Construction validates every field, so a typo or an
impossible combination fails at once with a `ValueError` that names the field
and the allowed values, long before any training (or any cluster work) starts.

Build one from a plain dict (a search-space sample, a JSON file) with
`TrainConfig.from_dict(d)`: unknown keys raise instead of silently falling back
to a default.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass, fields

from gan_core.datasets import dataset_choices, is_dataset_name, load_dataset
from gan_core.losses import LOSSES
from gan_core.models import ARCHS, G_NORMS, D_NORMS

INPUT_NORMS = ("tanh", "imagenet")
ORDERS = ("d_first", "g_first")
OPTIMIZERS = ("adam", "rmsprop", "sgd")
DEVICES = ("auto", "cpu", "cuda")
IMAGE_SIZES = (32, 64)


@dataclass(frozen=True)
class TrainConfig:
    # --- data ---
    dataset: str = "stacked-digits"  # a name in gan_core.datasets.DATASETS, or folder:PATH (an image folder)
    data_root: str = ""  # torchvision datasets' folder; "" = $GAN_STUDIES_DATA or <cache dir>/data where the run trains
    image_size: int = 32  # 32 or 64 (image datasets); the DCGAN depth follows it
    input_norm: str = "tanh"  # images as [-1, 1] ("tanh") or ImageNet mean/std per channel ("imagenet")
    batch_size: int = 64  # samples per D and per G update

    # --- networks ---
    arch: str = "dcgan"  # "dcgan" for images, "mlp" for 2-D points
    nz: int = 100  # latent size; z ~ N(0, I)
    ngf: int = 64  # G width: base conv channels (dcgan) or hidden units (mlp)
    ndf: int = 64  # D width, same meaning as ngf
    norm_g: str = "batch"  # normalization in G: batch | none
    norm_d: str = "batch"  # normalization in D: batch | spectral | layer | none

    # --- loss ---
    loss: str = "bce"  # a name in gan_core.losses.LOSSES
    clip_value: float = 0.01  # wgan: D weights clipped to [-c, c] after each D update
    gp_weight: float = 10.0  # wgan-gp: gradient-penalty weight (lambda)
    real_label: tuple[float, float] = (1.0, 1.0)  # D target range for real, sampled per example (0.9, 0.9 = one-sided smoothing)
    fake_label: tuple[float, float] = (0.0, 0.0)  # D target range for fake, sampled per example
    label_flip: float = 0.0  # probability of swapping an example's real/fake target (noisy labels)

    # --- D:G schedule ---
    d_steps: int = 1  # D updates per round
    g_steps: int = 1  # G updates per round (d_steps=1, g_steps=5 is a 1:5 ratio)
    order: str = "d_first"  # which network updates first within a round

    # --- optimizers ---
    opt_d: str = "adam"  # adam | rmsprop | sgd
    lr_d: float = 2e-4  # DCGAN paper value
    betas_d: tuple[float, float] = (0.5, 0.999)  # Adam betas (DCGAN paper); unused by rmsprop and sgd
    opt_g: str = "adam"
    lr_g: float = 2e-4
    betas_g: tuple[float, float] = (0.5, 0.999)

    # --- budget and evaluation ---
    max_steps: int = 2000  # rounds to train (one round = d_steps D updates + g_steps G updates)
    max_seconds: float = 0.0  # wall-clock cap per run in seconds, 0 = none; fair when step costs differ
    eval_every: int = 100  # rounds between evaluations (metrics, sample grid, checkpointable state)
    eval_samples: int = 2000  # generated samples scored per evaluation
    collapse_threshold: float = 0.25  # collapsed = diversity under this at two evaluations running
    seed: int = 0  # seeds weights, data order, noise and label sampling; same seed, same losses (CPU)
    device: str = "auto"  # auto (cuda when available) | cpu | cuda

    def __post_init__(self):
        for name in ("real_label", "fake_label", "betas_d", "betas_g"):
            value = getattr(self, name)
            if isinstance(value, (list, tuple)) and len(value) == 2:
                object.__setattr__(self, name, (float(value[0]), float(value[1])))
            else:
                raise ValueError(f"{name}: expected a pair of numbers, got {value!r}")
        _validate(self)

    @classmethod
    def from_dict(cls, values: dict) -> "TrainConfig":
        """Build a config from a dict; unknown keys raise a ValueError naming them."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(
                f"{unknown[0]}: unknown TrainConfig field; allowed: {', '.join(sorted(known))}"
            )
        return cls(**values)

    def to_dict(self) -> dict:
        """Plain dict of every field (tuples kept), suitable for logging and checkpoints."""
        return dataclasses.asdict(self)

    def replace(self, **changes) -> "TrainConfig":
        return TrainConfig.from_dict({**self.to_dict(), **changes})


CHOICES = {
    "arch": lambda: tuple(ARCHS),
    "loss": lambda: tuple(LOSSES),
    "norm_g": lambda: tuple(G_NORMS),
    "norm_d": lambda: tuple(D_NORMS),
    "input_norm": lambda: INPUT_NORMS,
    "order": lambda: ORDERS,
    "opt_d": lambda: OPTIMIZERS,
    "opt_g": lambda: OPTIMIZERS,
    "device": lambda: DEVICES,
}

# field -> (low, high, what) with inclusive bounds; None = unbounded
RANGES = {
    "image_size": (None, None, "one of 32, 64"),
    "batch_size": (1, 65536, "an integer >= 1"),
    "nz": (1, 4096, "an integer >= 1"),
    "ngf": (1, 4096, "an integer >= 1"),
    "ndf": (1, 4096, "an integer >= 1"),
    "clip_value": (1e-8, 100.0, "a number > 0"),
    "gp_weight": (0.0, 1e6, "a number >= 0"),
    "label_flip": (0.0, 0.5, "a probability in [0, 0.5]"),
    "d_steps": (1, 100, "an integer in [1, 100]"),
    "g_steps": (1, 100, "an integer in [1, 100]"),
    "lr_d": (1e-9, 1.0, "a number in (0, 1]"),
    "lr_g": (1e-9, 1.0, "a number in (0, 1]"),
    "max_steps": (1, 10**9, "an integer >= 1"),
    "max_seconds": (0.0, 1e9, "a number of seconds >= 0 (0 = no cap)"),
    "eval_every": (1, 10**9, "an integer >= 1"),
    "eval_samples": (16, 10**7, "an integer >= 16"),
    "collapse_threshold": (0.0, 1.0, "a number in [0, 1]"),
    "seed": (0, 2**31 - 1, "an integer in [0, 2**31 - 1]"),
}

INT_FIELDS = {f for f in RANGES if f not in {
    "clip_value", "gp_weight", "label_flip", "lr_d", "lr_g", "max_seconds", "collapse_threshold"}}


def _validate(c: TrainConfig) -> None:
    if not is_dataset_name(c.dataset):
        raise ValueError(f"dataset: {c.dataset!r} is not one of {dataset_choices()}")
    if not isinstance(c.data_root, str):
        raise ValueError(f"data_root: {c.data_root!r} is not a folder path (a string; '' for the default)")
    for name, allowed in CHOICES.items():
        value = getattr(c, name)
        if value not in allowed():
            raise ValueError(f"{name}: {value!r} is not one of {', '.join(allowed())}")
    for name, (low, high, what) in RANGES.items():
        value = getattr(c, name)
        is_int = isinstance(value, int) and not isinstance(value, bool)
        ok = is_int if name in INT_FIELDS else isinstance(value, (int, float)) and not isinstance(value, bool)
        ok = ok and math.isfinite(value) and (low is None or low <= value <= high)
        if not ok:
            raise ValueError(f"{name}: {value!r} is not {what}")
    if c.image_size not in IMAGE_SIZES:
        raise ValueError(f"image_size: {c.image_size!r} is not one of 32, 64")
    for name in ("real_label", "fake_label"):
        low, high = getattr(c, name)
        if not (0.0 <= low <= high <= 1.5):
            raise ValueError(f"{name}: {getattr(c, name)!r} is not a range (low, high) with 0 <= low <= high <= 1.5")
    for name in ("betas_d", "betas_g"):
        if not all(0.0 <= b < 1.0 for b in getattr(c, name)):
            raise ValueError(f"{name}: {getattr(c, name)!r} is not a pair in [0, 1)")
    _validate_combinations(c)


@functools.lru_cache(maxsize=None)
def _dataset_kind(name: str, image_size: int, data_root: str) -> str:
    """Points or images; raises the dataset's one-line error (unknown name, files not found).
    Cheap: file-backed datasets are checked for their files here, decoded only when sampled."""
    return load_dataset(name, image_size, data_root).kind


def _validate_combinations(c: TrainConfig) -> None:
    kind = _dataset_kind(c.dataset, c.image_size, c.data_root)
    wanted = ARCHS[c.arch].data_kind
    if kind != wanted:
        fitting = ", ".join(name for name, a in ARCHS.items() if a.data_kind == kind)
        raise ValueError(f"arch: {c.arch!r} trains on {wanted}, dataset {c.dataset!r} holds {kind}; use arch {fitting}")
    if kind == "points" and c.input_norm != "tanh":
        raise ValueError(f"input_norm: {c.input_norm!r} applies to images only; 2-D datasets take 'tanh' (raw points)")
    smoothed = c.real_label != (1.0, 1.0) or c.fake_label != (0.0, 0.0) or c.label_flip > 0
    if smoothed and not LOSSES[c.loss].smoothing:
        allowed = ", ".join(name for name, spec in LOSSES.items() if spec.smoothing)
        field = "label_flip" if c.label_flip > 0 else ("real_label" if c.real_label != (1.0, 1.0) else "fake_label")
        raise ValueError(f"{field}: label smoothing and flips apply only to loss {allowed}; loss is {c.loss!r}")
