"""Feature spaces for the sample-set metrics: images in, one vector per image out.

`FEATURES` maps a name to an extractor `extract(images, device="cpu",
batch_size=BATCH) -> (N, D) float32 CPU tensor`, for (N, C, H, W) images in
[0, 1]. Every extractor runs without grad, in batches, and leaves the global
torch RNG as it found it (network construction draws from the default
generator, so it runs inside `torch.random.fork_rng`).

  * classifier: the dataset's own reference classifier, a digit CNN of
    `gan_core.classifiers` (the digits one by default, MNIST's for the MNIST
    datasets): the input to its last Linear layer, 512 values per channel
    after resizing to 32x32. Each
    channel is classified on its own (a stacked-digits image is three digits)
    and the channels' features are concatenated: (N, 512 * C). Meaningful only
    for datasets of digits; `classifier_features` is what such a dataset names.
  * random: a fixed randomly initialised CNN, seeded (RANDOM_SEED), usable
    offline for any channel count and image size: images are resized to
    64x64 and mapped to [-1, 1]; four 4x4 stride-2 convolutions (16, 32, 64,
    128 channels, ReLU, He-normal weights drawn from an explicit generator,
    zero biases) bring them to 128 x 4 x 4, average-pooled to 128 x 2 x 2 and
    flattened: (N, 512). The weights depend only on the seed and the channel
    count, so every process gets the same network. Random embeddings are an
    established choice where no pretrained network fits the data: Naeem et al.
    (2020, "Reliable Fidelity and Diversity Metrics for Generative Models",
    ICML) evaluate with randomly initialised embeddings for images unlike
    ImageNet, and Lee, Kim and Lee (2023, "Demystifying Randomly Initialized
    Networks for Evaluating Generative Models", AAAI) show that random-network
    features rank generative models consistently with trained features.
  * inception: InceptionV3 pool features (2048-D), the network of FID (Heusel
    et al. 2017) as ported to PyTorch by torch-fidelity (`inception-v3-compat`,
    TensorFlow-compatible resizing to 299x299 of uint8 images). Grey images
    are repeated to three channels. Its weights are never downloaded here:
    they are read from the file named by $GAN_STUDIES_INCEPTION_WEIGHTS, else
    from torch hub's cache (`torch.hub.get_dir()/checkpoints/`, where
    torch-fidelity, torchmetrics and pytorch-fid keep them, under one of the
    INCEPTION_FILES names), else an error says where to put them. The file is
    a state_dict, loaded with weights_only=True; fetch it once where there is
    a network (torch_fidelity.feature_extractor_inceptionv3.URL_INCEPTION_V3)
    and copy it over.
"""

from __future__ import annotations

import copy
import io
import os
from functools import lru_cache
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from gan_core.classifiers import Classifier, reference_classifier
from gan_core.utils import resize_images

BATCH = 256
RANDOM_SEED = 0
RANDOM_SIZE = 64  # every image is resized to this side before the random CNN
RANDOM_WIDTHS = (16, 32, 64, 128)  # channels of the four stride-2 convolutions: 64 -> 4 pixels
INCEPTION_ENV = "GAN_STUDIES_INCEPTION_WEIGHTS"
INCEPTION_FILES = (  # the FID weights in torch hub's cache: torch-fidelity's (and torchmetrics') name, pytorch-fid's
    "weights-inception-2015-12-05-6726825d.pth",
    "pt_inception-2015-12-05-6726825d.pth",
)

Extractor = Callable[..., torch.Tensor]


def _check_images(images: torch.Tensor) -> torch.Tensor:
    if images.dim() != 4:
        raise ValueError(f"features are computed from (N, C, H, W) images, got shape {tuple(images.shape)}")
    return images.detach().to(torch.float32)


def _rng_devices(device: torch.device) -> list:
    return [device] if device.type == "cuda" else []


def _on(net: nn.Module, device: torch.device) -> nn.Module:
    """net itself on the CPU, else a copy on device: the cached CPU networks are shared and never moved."""
    return net if device.type == "cpu" else copy.deepcopy(net).to(device)


def _embed(net: Callable[[torch.Tensor], torch.Tensor], images: torch.Tensor, device: torch.device,
           batch_size: int) -> torch.Tensor:
    """net applied batch by batch on device, without grad; (N, D) float32 on the CPU."""
    with torch.no_grad():
        out = [net(b.to(device)).flatten(1).float().cpu() for b in images.split(batch_size)]
    return torch.cat(out) if out else torch.empty(0, 0)


# -------------------------------------------------------------- classifier

def classifier_features(images: torch.Tensor, device: str | torch.device = "cpu",
                        batch_size: int = BATCH, classifier: Classifier = None) -> torch.Tensor:
    """Penultimate activations of a digit classifier (default: the sklearn-digits reference;
    `classifier(device)` returns another, such as the MNIST one), per channel, concatenated: (N, 512 * C)."""
    images = _check_images(images)
    device = torch.device(device)
    with torch.random.fork_rng(devices=_rng_devices(device)):
        body = (classifier or reference_classifier)(device)[:-1]  # everything up to the last Linear
        channels = resize_images(images, 32).reshape(-1, 1, 32, 32)
        feats = _embed(body, channels, device, batch_size)
    return feats.reshape(images.shape[0], -1)


# ------------------------------------------------------------------ random

@lru_cache(maxsize=None)
def random_cnn(channels: int, seed: int = RANDOM_SEED) -> nn.Sequential:
    """The fixed random CNN for `channels`-channel images; same weights in every process for a seed."""
    gen = torch.Generator().manual_seed(seed)
    layers: list[nn.Module] = []
    c_in = channels
    for width in RANDOM_WIDTHS:
        conv = nn.utils.skip_init(nn.Conv2d, c_in, width, 4, stride=2, padding=1)
        fan_in = c_in * 4 * 4
        conv.weight.data = torch.randn(conv.weight.shape, generator=gen) * (2.0 / fan_in) ** 0.5
        conv.bias.data = torch.zeros(width)
        layers += [conv, nn.ReLU()]
        c_in = width
    layers += [nn.AvgPool2d(2), nn.Flatten()]
    return nn.Sequential(*layers).eval().requires_grad_(False)


def random_features(images: torch.Tensor, device: str | torch.device = "cpu", batch_size: int = BATCH,
                    seed: int = RANDOM_SEED) -> torch.Tensor:
    """Features of the seeded random CNN (see the module docstring): (N, 512)."""
    images = _check_images(images)
    device = torch.device(device)
    net = random_cnn(images.shape[1], seed)
    with torch.random.fork_rng(devices=_rng_devices(device)):
        resized = resize_images(images.clamp(0.0, 1.0), RANDOM_SIZE) * 2.0 - 1.0
        return _embed(_on(net, device), resized, device, batch_size)


# --------------------------------------------------------------- inception

def inception_weights_path() -> Path:
    """$GAN_STUDIES_INCEPTION_WEIGHTS if set, else torch hub's cached copy; FileNotFoundError when neither exists."""
    env = os.environ.get(INCEPTION_ENV)
    if env:
        if not Path(env).is_file():
            raise FileNotFoundError(f"${INCEPTION_ENV} names {env!r}, which is not a file")
        return Path(env)
    folder = Path(torch.hub.get_dir()) / "checkpoints"
    for name in INCEPTION_FILES:
        if (folder / name).is_file():
            return folder / name
    raise FileNotFoundError(
        f"InceptionV3 (FID) weights not found: set ${INCEPTION_ENV} to the path of {INCEPTION_FILES[0]} "
        f"(the state_dict at torch_fidelity.feature_extractor_inceptionv3.URL_INCEPTION_V3), or put that file "
        f"in {folder}")


@lru_cache(maxsize=2)
def _inception_net(path: str, device: str) -> nn.Module:
    """torch-fidelity's FID InceptionV3 on device with the state_dict at path, read with weights_only=True."""
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    state = torch.load(path, map_location="cpu", weights_only=True)
    buffer = io.BytesIO()  # torch-fidelity reads its weights with a full unpickler: hand it only these tensors
    torch.save(state, buffer)
    buffer.seek(0)
    with torch.random.fork_rng(devices=[]):  # building the layers draws default initial weights
        net = FeatureExtractorInceptionV3("inception-v3-compat", ["2048"], feature_extractor_weights_path=buffer)
    return net.to(device)


def inception_features(images: torch.Tensor, device: str | torch.device = "cpu",
                       batch_size: int = 64) -> torch.Tensor:
    """InceptionV3 pool3 features (FID's), (N, 2048); without weights, FileNotFoundError naming INCEPTION_ENV."""
    images = _check_images(images)
    if images.shape[1] not in (1, 3):
        raise ValueError(f"inception features need 1- or 3-channel images, got {images.shape[1]} channels")
    device = torch.device(device)
    net = _inception_net(str(inception_weights_path().resolve()), str(device))
    rgb = images.expand(-1, 3, -1, -1) if images.shape[1] == 1 else images
    as_uint8 = (rgb.clamp(0.0, 1.0) * 255).round().to(torch.uint8)
    with torch.random.fork_rng(devices=_rng_devices(device)):
        return _embed(lambda b: net(b)[0], as_uint8, device, batch_size)


FEATURES: dict[str, Extractor] = {
    "classifier": classifier_features,
    "random": random_features,
    "inception": inception_features,
}


def extract(name: str | Callable, images: torch.Tensor, device: str | torch.device = "cpu") -> torch.Tensor:
    """Features of images in the space registered as `name` (or from an extractor given
    directly, such as a dataset's own classifier); ValueError if the name is unknown."""
    if callable(name):
        return name(images, device=device)
    if name not in FEATURES:
        raise ValueError(f"features must be one of {sorted(FEATURES)}, got {name!r}")
    return FEATURES[name](images, device=device)
