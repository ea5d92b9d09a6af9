"""TrainConfig: every knob of one GAN training run, in one frozen dataclass.

A run is fully described by a `TrainConfig`; `gan_core.train.train` takes one
and nothing else. Construction validates every field, so a typo or an
impossible combination fails at once with a `ValueError` that names the field
and the allowed values, long before any training (or any cluster work) starts.
What depends on the dataset, the loss or the architecture is read from the
facts their registries declare (`DatasetEntry`, `Loss.options`, `Arch.knobs`):
validation loads no dataset and opens no file or connection, but an image
folder's labels.csv for its tag count.

Build one from a plain dict (a search-space sample, a JSON file) with
`TrainConfig.from_dict(d)`: unknown keys raise instead of silently falling back
to a default.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, fields

from gan_core import heads
from gan_core.augment import parse_policy
from gan_core.datasets import DATASETS, IMAGE_SIZES, DatasetEntry, dataset_choices, dataset_entry, is_dataset_name
from gan_core.evaluation import FEATURE_CHOICES, parse_metrics
from gan_core.features import inception_weights_path
from gan_core.losses import LOSS_OPTIONS, LOSSES
from gan_core.models import ARCHS, G_NORMS, D_NORMS, arch_knobs

INPUT_NORMS = ("tanh", "imagenet")
LATENTS = ("normal", "uniform", "sphere")
ORDERS = ("d_first", "g_first")
OPTIMIZERS = ("adam", "rmsprop", "sgd")
DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("auto", "fp32", "bf16")
MEMORY_FORMATS = ("auto", "contiguous", "channels_last")
BUDGETS = ("rounds", "updates")


@dataclass(frozen=True)
class TrainConfig:
    # --- data ---
    dataset: str = "stacked-digits"  # a name in gan_core.datasets.DATASETS, or folder:PATH (an image folder)
    data_root: str = ""  # torchvision datasets' folder; "" = $GAN_STUDIES_DATA or <cache dir>/data where the run trains
    image_size: int = 32  # 32 or 64 (image datasets); the DCGAN depth follows it
    input_norm: str = "tanh"  # images as [-1, 1] ("tanh") or ImageNet mean/std per channel ("imagenet")
    batch_size: int = 64  # samples per D and per G update

    hflip: bool = False  # mirror real images left-right with probability 1/2

    # --- networks ---
    arch: str = "dcgan"  # images: dcgan | dcgan-deep | upsample | resnet | vae (baseline); 2-D points: mlp
    nz: int = 100  # latent size
    latent: str = "normal"  # z ~ normal N(0, I) | uniform U(-1, 1) | sphere (normal scaled to norm sqrt(nz))
    ngf: int = 64  # G width: base conv channels (4 * ngf for resnet) or hidden units (mlp)
    ndf: int = 64  # D width, same meaning as ngf (2 * ndf for resnet)
    norm_g: str = "batch"  # normalization in G: batch | none
    norm_d: str = "batch"  # normalization in D: batch | spectral | layer | none
    mbstd: bool = False  # minibatch-stddev feature in D (Karras et al. 2018), a collapse mitigation
    pack: int = 1  # PacGAN: D judges `pack` samples at once (Lin et al. 2018); 1 = off

    # --- conditioning (labelled datasets) ---
    conditioning: str = "none"  # none | cgan (label into G and D) | acgan (aux classifier) | projection D
    matching_aware: bool = False  # cgan: D also sees real images with wrong labels as fake (Reed et al. 2016)
    aux_weight: float = 1.0  # acgan: weight of the auxiliary classification loss in D and G
    embed_dim: int = 32  # size of the label embedding fed to G (and to D for cgan)
    label_input: str = "embed"  # how the label enters G (and cgan's D): embed (a learned embedding) | onehot (the raw
    #                             one-hot or multi-hot label beside z, no embedding layer: the early cDCGANs' way)

    # --- loss ---
    loss: str = "bce"  # a name in gan_core.losses.LOSSES
    clip_value: float = 0.01  # wgan: D weights clipped to [-c, c] after each D update
    gp_weight: float = 10.0  # wgan-gp: gradient-penalty weight (lambda)
    real_label: tuple[float, float] = (1.0, 1.0)  # D target range for real, sampled per example (0.9, 0.9 = one-sided smoothing)
    fake_label: tuple[float, float] = (0.0, 0.0)  # D target range for fake, sampled per example
    label_flip: float = 0.0  # probability of swapping an example's real/fake target (noisy labels)
    r1_weight: float = 0.0  # R1 penalty gamma on real data (Mescheder et al. 2018), any loss; 0 = off
    kl_weight: float = 1.0  # vae: weight of the KL term (beta)

    # --- D:G schedule ---
    d_steps: int = 1  # D updates per round
    g_steps: int = 1  # G updates per round (d_steps=1, g_steps=5 is a 1:5 ratio)
    order: str = "d_first"  # which network updates first within a round
    d_skip_below: float = 0.0  # adaptive D: skip a D update while its loss is under this; 0 = off

    # --- tricks ---
    ema: float = 0.0  # decay of an EMA copy of G used for samples and scores (0.999 typical); 0 = off
    diffaug: str = ""  # DiffAugment policies on real and fake, comma-separated: translation,color,cutout

    # --- optimizers ---
    opt_d: str = "adam"  # adam | rmsprop | sgd
    lr_d: float = 2e-4  # DCGAN paper value
    betas_d: tuple[float, float] = (0.5, 0.999)  # Adam betas (DCGAN paper); unused by rmsprop and sgd
    opt_g: str = "adam"
    lr_g: float = 2e-4
    betas_g: tuple[float, float] = (0.5, 0.999)

    # --- budget and evaluation ---
    budget: str = "rounds"  # unit of max_steps and eval_every: rounds, or network updates (D + G: a 5:1 round is 6,
    #                         a 1:1 round 2), the fair unit when studies compare D:G ratios
    max_steps: int = 2000  # training work per run, in `budget` units; 0 = none (then max_seconds is the budget)
    max_seconds: float = 0.0  # wall-clock cap per run in seconds, 0 = none; a safety net, or the budget when max_steps is 0
    eval_every: int = 100  # `budget` units between evaluations (metrics, sample grid, checkpointable state)
    eval_samples: int = 2000  # generated samples scored per evaluation (and real samples they are compared with)
    metrics: str = "auto"  # sample-set metrics beside those unknown modes' scores need (prdc, ms_ssim): auto (fd,
    #                        kid where modes are unknown, nothing where known) | none | a list of ms_ssim,ndb,prdc,fd,kid
    features: str = "auto"  # their feature space: auto (the dataset's classifier, else random) | classifier | random | inception
    collapse_threshold: float = 0.25  # an evaluation is collapsed when diversity is under this ...
    collapse_quality: float = 0.1  # ... while quality is at least this (few modes of plausible samples, not an
    #                               untrained G) and diversity sets no new high; collapsed = two such evaluations running
    seed: int = 0  # seeds weights, data order, noise and label sampling; same seed, same losses (CPU)
    device: str = "auto"  # auto (cuda when torch sees it; a study's trial passes the device Ray gave it) | cpu | cuda
    precision: str = "auto"  # auto (bf16 autocast on CUDA devices of compute capability >= 8.0, else fp32) | fp32 | bf16
    memory_format: str = "auto"  # image tensors and conv weights: auto (channels_last on CUDA, and on the CPU where
    #                              measured faster: gan_core.devices.use_channels_last) | contiguous | channels_last

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
    "latent": lambda: LATENTS,
    "conditioning": lambda: heads.CONDITIONINGS,
    "label_input": lambda: heads.LABEL_INPUTS,
    "arch": lambda: tuple(ARCHS),
    "loss": lambda: tuple(LOSSES),
    "norm_g": lambda: tuple(G_NORMS),
    "norm_d": lambda: tuple(D_NORMS),
    "input_norm": lambda: INPUT_NORMS,
    "order": lambda: ORDERS,
    "opt_d": lambda: OPTIMIZERS,
    "opt_g": lambda: OPTIMIZERS,
    "device": lambda: DEVICES,
    "precision": lambda: PRECISIONS,
    "memory_format": lambda: MEMORY_FORMATS,
    "budget": lambda: BUDGETS,
}

# field -> (low, high, what) with inclusive bounds; None = unbounded
RANGES = {
    "image_size": (None, None, f"one of {', '.join(map(str, IMAGE_SIZES))}"),
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
    "max_steps": (0, 10**9, "an integer >= 0 (0 = no limit: max_seconds is the budget)"),
    "max_seconds": (0.0, 1e9, "a number of seconds >= 0 (0 = no cap)"),
    "eval_every": (1, 10**9, "an integer >= 1"),
    "eval_samples": (16, 10**7, "an integer >= 16"),
    "collapse_threshold": (0.0, 1.0, "a number in [0, 1]"),
    "collapse_quality": (0.0, 1.0, "a number in [0, 1]"),
    "seed": (0, 2**31 - 1, "an integer in [0, 2**31 - 1]"),
    "pack": (1, 16, "an integer in [1, 16]"),
    "embed_dim": (1, 4096, "an integer >= 1"),
    "aux_weight": (0.0, 1e6, "a number >= 0"),
    "r1_weight": (0.0, 1e6, "a number >= 0"),
    "kl_weight": (0.0, 1e6, "a number >= 0"),
    "d_skip_below": (0.0, 1e6, "a number >= 0 (0 = off)"),
    "ema": (0.0, 0.999999, "a decay in [0, 1) (0 = off)"),
}

FLOAT_FIELDS = {"clip_value", "gp_weight", "label_flip", "lr_d", "lr_g", "max_seconds", "collapse_threshold", "collapse_quality",
                "aux_weight", "r1_weight", "kl_weight", "d_skip_below", "ema"}
INT_FIELDS = {f for f in RANGES if f not in FLOAT_FIELDS}
BOOL_FIELDS = ("hflip", "mbstd", "matching_aware")


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
    for name in BOOL_FIELDS:
        if not isinstance(getattr(c, name), bool):
            raise ValueError(f"{name}: {getattr(c, name)!r} is not one of True, False")
    parse_policy(c.diffaug)
    parse_metrics(c.metrics)
    if c.features not in FEATURE_CHOICES:
        raise ValueError(f"features: {c.features!r} is not one of {', '.join(FEATURE_CHOICES)}")
    if c.max_steps == 0 and c.max_seconds == 0:
        raise ValueError("max_steps: 0 (no limit) needs a wall-clock budget; set max_seconds > 0 or max_steps >= 1")
    for name in ("real_label", "fake_label"):
        low, high = getattr(c, name)
        if not (0.0 <= low <= high <= 1.5):
            raise ValueError(f"{name}: {getattr(c, name)!r} is not a range (low, high) with 0 <= low <= high <= 1.5")
    for name in ("betas_d", "betas_g"):
        if not all(0.0 <= b < 1.0 for b in getattr(c, name)):
            raise ValueError(f"{name}: {getattr(c, name)!r} is not a pair in [0, 1)")
    _validate_combinations(c)


DEFAULTS = {f.name: f.default for f in fields(TrainConfig)}  # the value a knob takes where it does not apply


def _labelled_datasets() -> str:
    names = [name for name, entry in DATASETS.items() if entry.n_classes]
    return ", ".join(names + ["folder:PATH with a labels.csv"])


def _validate_combinations(c: TrainConfig) -> None:
    """What depends on the dataset, the architecture and the loss: read from their registries'
    declared facts (a folder dataset's labels.csv at most), never by loading a dataset."""
    entry = dataset_entry(c.dataset)
    entry.check_image_size(c.dataset, c.image_size)
    wanted = ARCHS[c.arch].data_kind
    if entry.kind != wanted:
        fitting = ", ".join(name for name, a in ARCHS.items() if a.data_kind == entry.kind)
        raise ValueError(f"arch: {c.arch!r} trains on {wanted}, dataset {c.dataset!r} holds {entry.kind}; "
                         f"use arch {fitting}")
    if entry.kind == "points" and c.input_norm != "tanh":
        raise ValueError(f"input_norm: {c.input_norm!r} applies to images only; 2-D datasets take 'tanh' (raw points)")
    if entry.kind == "points" and c.memory_format != "auto":
        raise ValueError(f"memory_format: {c.memory_format!r} applies to images only; 2-D datasets take 'auto'")
    _validate_arch_knobs(c)
    _validate_loss_options(c)
    _validate_tricks(c, entry)
    _validate_metrics(c, entry)


def _validate_arch_knobs(c: TrainConfig) -> None:
    """Knobs only some architectures use (the GAN updates' on the VAE, kl_weight on a GAN) keep their defaults."""
    arch = ARCHS[c.arch]
    if c.norm_d not in arch.takes_norm_d():
        raise ValueError(f"norm_d: {c.norm_d!r} is not one of {', '.join(arch.takes_norm_d())} for arch {c.arch!r}")
    for name in arch_knobs():
        value = getattr(c, name)
        if name not in arch.knobs and value != DEFAULTS[name]:
            users = ", ".join(a for a, spec in ARCHS.items() if name in spec.knobs)
            raise ValueError(f"{name}: {value!r} is used by arch {users} only; "
                             f"arch {c.arch!r} takes {DEFAULTS[name]!r}")


def _validate_loss_options(c: TrainConfig) -> None:
    """Knobs only some losses use (LOSS_OPTIONS: targets, clipping, the penalty, adaptive D) keep their defaults."""
    options = LOSSES[c.loss].options
    for name, what in LOSS_OPTIONS.items():
        if name not in options and getattr(c, name) != DEFAULTS[name]:
            allowed = ", ".join(loss for loss, spec in LOSSES.items() if name in spec.options)
            raise ValueError(f"{name}: {what} only to loss {allowed}; loss is {c.loss!r}")


def _validate_metrics(c: TrainConfig, entry: DatasetEntry) -> None:
    if entry.kind == "points" and (parse_metrics(c.metrics) or c.features not in ("auto",)):
        field = "metrics" if parse_metrics(c.metrics) else "features"
        raise ValueError(f"{field}: {getattr(c, field)!r} measures images; dataset {c.dataset!r} holds points "
                         f"(its scores are the mode scores); use auto")
    if c.features == "classifier" and not entry.classifier:
        raise ValueError(f"features: dataset {c.dataset!r} has no reference classifier; use auto, random or inception")
    if c.features == "inception":
        try:
            inception_weights_path()
        except FileNotFoundError as err:
            raise ValueError(f"features: {err}") from None


def _validate_tricks(c: TrainConfig, entry: DatasetEntry) -> None:
    if c.conditioning != "none" and entry.n_classes == 0:
        raise ValueError(f"conditioning: {c.conditioning!r} needs labels; dataset {c.dataset!r} has none "
                         f"(labelled: {_labelled_datasets()})")
    if c.label_input != DEFAULTS["label_input"] and c.conditioning == "none":
        raise ValueError(f"label_input: {c.label_input!r} says how a label enters the nets; conditioning is 'none'")
    if c.label_input == "onehot" and c.embed_dim != DEFAULTS["embed_dim"]:
        raise ValueError(f"embed_dim: {c.embed_dim!r} sizes the label embedding; label_input 'onehot' has none "
                         f"(it takes {DEFAULTS['embed_dim']!r})")
    if c.matching_aware and c.conditioning != "cgan":
        raise ValueError(f"matching_aware: applies to conditioning 'cgan' only; conditioning is {c.conditioning!r}")
    if c.pack > 1 and c.conditioning != "none":
        raise ValueError(f"pack: packing judges unrelated samples together, so it needs conditioning 'none'; "
                         f"conditioning is {c.conditioning!r}")
    if c.batch_size % c.pack:
        raise ValueError(f"pack: {c.pack} must divide batch_size {c.batch_size}")
    if entry.kind == "points" and (c.diffaug or c.hflip):
        raise ValueError(f"{'diffaug' if c.diffaug else 'hflip'}: image augmentation; dataset {c.dataset!r} holds points")
